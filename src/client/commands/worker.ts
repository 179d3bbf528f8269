import type { Command } from 'commander';
import { hostname } from 'node:os';
import type { WorkerFlags } from '../actions/worker';
import { portNumber } from '../options';

// Loaded when it runs (see main.ts); `--stop` and `--detach` do not load the worker itself.
const actions = (): typeof import('../actions/worker') => require('../actions/worker');

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
    .option(
      '--metrics-port <port>',
      'serve Prometheus metrics on 127.0.0.1:<port>/metrics (SDK metrics, cluster health, repairs)',
      portNumber,
    )
    .action((flags: WorkerFlags) => actions().worker(flags));
}
