import type { Command } from 'commander';
import { hostname } from 'node:os';
import { installQuietRuntime, runWorkers } from '../../worker';

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
    .action(async (flags: { executor: string | false; shared: boolean; verbose?: boolean }) => {
      installQuietRuntime(flags.verbose ? 'INFO' : 'WARN');
      await runWorkers({ shared: flags.shared, executor: flags.executor });
    });
}
