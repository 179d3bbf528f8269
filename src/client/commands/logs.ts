import type { Command } from 'commander';
import { positiveInt } from '../options';
import type { SourceFlags } from '../actions/logs';

// Loaded when a logs command runs (see main.ts).
const actions = (): typeof import('../actions/logs') => require('../actions/logs');

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerLogsCommands(program: Command): void {
  const logs = program
    .command('logs')
    .description("fetch every host's LOG_PATH into LOG_PATH_IN_EXECUTOR/<host>/, now or on a schedule");
  const source = (cmd: Command) =>
    cmd
      .argument('[cluster]', 'cluster name (default: the only cluster running)')
      .option('-i, --inventory <file>', "fetch this inventory's hosts instead of the running cluster's")
      .option('-e, --extra-vars <key=value>', 'override a setting of --inventory (repeatable)', collect, [])
      .option('--executor <name>', "executor machine whose worker writes the logs (default: the cluster's)")
      .option('--attempts <n>', 'attempts per host before it is reported unreachable', positiveInt, 3);

  source(logs.command('fetch'))
    .description('fetch the logs now; prints bytes per host and the hosts that could not be reached')
    .action(async (cluster: string | undefined, flags: SourceFlags) => {
      process.exitCode = await actions().fetchLogs(cluster, flags);
    });

  source(logs.command('schedule'))
    .description('fetch the logs on a Temporal Schedule (logs/<cluster>); running it again updates it')
    .requiredOption('--every <duration>', 'interval, e.g. 15m')
    .action(async (cluster: string | undefined, flags: SourceFlags & { every: string }) => {
      await actions().scheduleLogs(cluster, flags);
    });

  logs
    .command('unschedule')
    .description("delete a cluster's log Schedule")
    .argument('[cluster]', 'cluster name (default: the only cluster running)')
    .option('-i, --inventory <file>', 'take the cluster name from this inventory')
    .action(async (cluster: string | undefined, flags: { inventory?: string }) => {
      process.exitCode = await actions().unscheduleLogs(cluster, flags);
    });

  logs
    .command('list')
    .description('list the log Schedules with their next run times')
    .action(() => actions().listLogSchedules());
}
