import type { Command } from 'commander';
import { hostname } from 'node:os';
import { installQuietRuntime, runWorkers } from '../../worker';
import { ensureBackgroundWorker, stopBackgroundWorker, workerLogFile } from '../backgroundWorker';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description(
      'run a worker for the cluster workflows and their activities (SIGINT/SIGTERM stop it gracefully)',
    )
    .option(
      '--executor <name>',
      'name of this executor machine (its task queue gets local-disk activities)',
      hostname(),
    )
    .option('--no-executor', 'do not serve an executor queue (a capacity-only worker on another machine)')
    .option('--no-shared', 'serve only the executor queue')
    .option('--verbose', "show the SDK's own log lines")
    .option('-d, --detach', 'run in the background (pid and log under the state folder); reuse a running one')
    .option('--stop', 'stop the background worker')
    .action(
      async (flags: {
        executor: string | false;
        shared: boolean;
        verbose?: boolean;
        detach?: boolean;
        stop?: boolean;
      }) => {
        if (flags.stop) {
          const pid = await stopBackgroundWorker();
          console.log(pid === undefined ? 'no background worker is running' : `stopped worker pid ${pid}`);
          return;
        }
        if (flags.detach) {
          const w = await ensureBackgroundWorker([
            ...(flags.executor === false ? ['--no-executor'] : ['--executor', flags.executor]),
            ...(flags.shared ? [] : ['--no-shared']),
          ]);
          console.log(
            `${w.started ? 'started' : 'reusing'} background worker pid ${w.pid}; log ${workerLogFile()}`,
          );
          return;
        }
        installQuietRuntime(flags.verbose ? 'INFO' : 'WARN');
        await runWorkers({ shared: flags.shared, executor: flags.executor });
      },
    );
}
