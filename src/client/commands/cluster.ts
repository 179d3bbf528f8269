import { InvalidArgumentError, Option, type Command } from 'commander';
import { hostname } from 'node:os';
import { durationOption, positiveInt } from '../options';
import type { ClusterFlags, RestartFlags, StartFlags } from '../actions/cluster';
import type { TopFlags } from '../actions/top';

// Each command's implementation is loaded when it runs (see main.ts), so `deploy status` does not
// pay for what `deploy start` needs.
const actions = (): typeof import('../actions/cluster') => require('../actions/cluster');
const status = (): typeof import('../actions/status') => require('../actions/status');
const top = (): typeof import('../actions/top') => require('../actions/top');

function topInterval(value: string): number {
  const ms = durationOption(value);
  if (ms < 500 || ms > 60_000) throw new InvalidArgumentError('must be between 0.5s and 60s');
  return ms;
}

const csv = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];
const collect = (v: string, prev: string[] = []) => [...prev, v];
const collectRole = (v: string, prev: ('prefill' | 'decode')[] = []): ('prefill' | 'decode')[] => {
  if (v !== 'prefill' && v !== 'decode') throw new InvalidArgumentError('expected prefill or decode');
  return [...prev, v];
};

export function registerClusterCommands(program: Command): void {
  const clusterArg = (cmd: Command) =>
    cmd
      .argument('[cluster]', 'cluster name (default: the only cluster running)')
      .option('-i, --inventory <file>', 'take the cluster name from this inventory instead');

  program
    .command('start')
    .description(
      'deploy a cluster from an inventory as a durable workflow, showing progress; on a running cluster, apply the edited inventory as a rollout (or run --tags phases)',
    )
    .requiredOption('-i, --inventory <file>', "the seed's Ansible inventory (YAML)")
    .option('-t, --tags <tags>', 'run only these phases (comma list, repeatable)', csv)
    .option('--skip-tags <tags>', 'skip these phases (comma list, repeatable)', csv)
    .option('-e, --extra-vars <key=value>', 'override a setting, like ansible -e (repeatable)', collect, [])
    .option('-d, --detach', 'return once started instead of showing progress')
    .option('--parallelism <n>', 'most hosts worked on at once per phase', positiveInt, 50)
    .option('--attempts <n>', 'attempts per host step before it counts as failed', positiveInt, 5)
    .option(
      '--watch-every <duration>',
      'once ready, probe every host this often (off: no health watch)',
      durationOption,
      10_000,
    )
    .option('--no-heal', 'report health only: do not repair units that stop serving (deploy heal on/off)')
    .addOption(
      new Option('--executor <name>', 'executor machine whose worker serves local-disk steps').default(
        hostname(),
      ),
    )
    .action(async (flags: StartFlags) => {
      process.exitCode = await actions().startCluster(flags);
    });

  clusterArg(program.command('status'))
    .description('show the host × phase table, errors and endpoints of a cluster')
    .option('--json', 'machine-readable status')
    .action(async (cluster: string | undefined, flags: ClusterFlags & { json?: boolean }) => {
      process.exitCode = await status().showStatus(cluster, flags);
    });

  clusterArg(program.command('top'))
    .description(
      "live load of every prefill instance and decode DP rank, from the engines' own /metrics: running and waiting requests, KV-cache use, request and token rates, TTFT and ITL p90 over the last interval",
    )
    .option('--interval <duration>', 'between two refreshes (0.5s to 60s)', topInterval, 2000)
    .option('--count <n>', 'stop after this many refreshes', positiveInt)
    .option('--json', 'one sample (two scrapes an interval apart) as JSON')
    .action(async (cluster: string | undefined, flags: TopFlags) => {
      process.exitCode = await top().showTop(cluster, flags);
    });

  clusterArg(program.command('retry'))
    .description('re-run the failed hosts of the phase waiting for the operator, then continue')
    .option('-d, --detach', 'return once the retry is accepted')
    .action(async (cluster: string | undefined, flags: ClusterFlags & { detach?: boolean }) => {
      process.exitCode = await actions().retryCluster(cluster, flags);
    });

  clusterArg(program.command('down'))
    .description('cancel the cluster workflow and wait until every host is cleaned up')
    .action(async (cluster: string | undefined, flags: ClusterFlags) => {
      process.exitCode = await actions().downCluster(cluster, flags);
    });

  clusterArg(program.command('restart'))
    .description('restart engine servers (decode first, readiness-gated) while the workflow keeps running')
    .option('--role <role>', 'only this role: prefill or decode (repeatable)', collectRole)
    .option('--host <name>', 'only this host (repeatable)', collect)
    .option('--sync-code', 'sync the code to those hosts first')
    .option('-d, --detach', 'send the restart signal and return')
    .action(async (cluster: string | undefined, flags: RestartFlags) => {
      process.exitCode = await actions().restartCluster(cluster, flags);
    });

  program
    .command('diff')
    .description(
      'what applying an inventory to the running cluster would change, per unit and host (changes nothing; exit 2 when something would change)',
    )
    .requiredOption('-i, --inventory <file>', "the seed's Ansible inventory (YAML)")
    .option('-e, --extra-vars <key=value>', 'override a setting, like ansible -e (repeatable)', collect, [])
    .option('--json', 'machine-readable diff')
    .action(async (flags: { inventory: string; extraVars: string[]; json?: boolean }) => {
      process.exitCode = await actions().diffCluster(flags);
    });

  clusterArg(program.command('rollback'))
    .description(
      'back to the plan in force before the last rollout (or undo a rollout that stopped), unit by unit',
    )
    .option('-d, --detach', 'return once the rollback is accepted')
    .action(async (cluster: string | undefined, flags: ClusterFlags & { detach?: boolean }) => {
      process.exitCode = await actions().rollbackCluster(cluster, flags);
    });

  clusterArg(program.command('events'))
    .description('what the cluster noticed and did by itself: health changes and repairs')
    .option('--json', 'machine-readable events')
    .action(async (cluster: string | undefined, flags: ClusterFlags & { json?: boolean }) => {
      process.exitCode = await status().showEvents(cluster, flags);
    });

  program
    .command('heal')
    .description('turn self-healing on or off for a running cluster (the health watch keeps reporting)')
    .argument('<on|off>', 'on or off')
    .argument('[cluster]', 'cluster name (default: the only cluster running)')
    .option('-i, --inventory <file>', 'take the cluster name from this inventory instead')
    .action(async (state: string, cluster: string | undefined, flags: ClusterFlags) => {
      if (state !== 'on' && state !== 'off')
        throw new InvalidArgumentError(`expected on or off, got "${state}"`);
      process.exitCode = await actions().setHealing(state === 'on', cluster, flags);
    });

  program
    .command('list')
    .description('list cluster workflows (running and recently closed)')
    .option('--all', 'include closed ones older than a day')
    .action(async (flags: { all?: boolean }) => {
      await actions().listClusters(flags);
    });
}
