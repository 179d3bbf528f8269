import type { Command } from 'commander';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleUpdateOptions,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { durationMs } from '../../shared/duration';
import { planFromFile } from '../planFile';
import { clusterWorkflowId } from '../../shared/ids';
import { DEPLOY_CLUSTER } from '../../shared/searchAttributes';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../shared/taskQueues';
import { fetchLogsWorkflow } from '../../workflows';
import type { DeployClusterInput } from '../../workflows/cluster/deployCluster';
import { fetchLogsInput, type FetchLogsInput, type FetchLogsResult } from '../../workflows/fetchLogs';
import { positiveInt } from '../options';
import { withClient } from '../temporalClient';
import { parseExtraVars } from './planInput';
import { resolveCluster } from './watch';

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** The Schedule of a cluster's log fetch: one per cluster, so creating it again updates it. */
export function logScheduleId(cluster: string): string {
  return `logs/${cluster}`;
}

interface SourceFlags {
  inventory?: string;
  extraVars: string[];
  executor?: string;
  attempts: number;
}

const tuning = (flags: SourceFlags) => ({ maximumAttempts: flags.attempts });

/**
 * What to fetch: from --inventory, or else exactly the plan and executor the cluster workflow was
 * started with (its first history event), so the logs come from the hosts that were deployed.
 */
async function resolveInput(
  client: Client,
  clusterArg: string | undefined,
  flags: SourceFlags,
): Promise<FetchLogsInput> {
  if (flags.inventory) {
    const plan = planFromFile(flags.inventory, parseExtraVars(flags.extraVars));
    if (clusterArg && clusterArg !== plan.cluster) {
      throw new Error(`--inventory describes cluster ${plan.cluster}, not ${clusterArg}`);
    }
    return fetchLogsInput(plan, executorTaskQueue(flags.executor), tuning(flags));
  }
  const cluster = await resolveCluster(client, clusterArg);
  const history = await client.workflow.getHandle(clusterWorkflowId(cluster)).fetchHistory();
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  if (!started)
    throw new Error(`cannot read how ${clusterWorkflowId(cluster)} was started; pass --inventory`);
  const first = started.input?.payloads?.[0];
  if (!first) throw new Error(`${clusterWorkflowId(cluster)} was started without an input; pass --inventory`);
  // The tool configures no payload codec, so the default converter reads what the CLI wrote.
  const { plan, options } = defaultPayloadConverter.fromPayload<DeployClusterInput>(first);
  const queue = flags.executor ? executorTaskQueue(flags.executor) : options.executorTaskQueue;
  return fetchLogsInput(plan, queue, tuning(flags));
}

function printResult(r: FetchLogsResult): number {
  for (const h of r.hosts) {
    console.log(
      h.ok
        ? `${h.host.padEnd(12)} ok      ${String(h.bytesReceived).padStart(12)} B  ${h.files} file(s) changed`
        : `${h.host.padEnd(12)} FAILED  ${h.error?.type}: ${h.error?.message}`,
    );
  }
  console.log(
    `${r.cluster}: ${r.bytesReceived} B received from ${r.hosts.length - r.failed.length}/${r.hosts.length} machines` +
      (r.failed.length > 0 ? `; unreachable: ${r.failed.join(', ')}` : ''),
  );
  return r.failed.length > 0 ? 2 : 0;
}

function parseEvery(every: string): string {
  const ms = durationMs(every);
  if (ms === undefined) throw new Error(`--every expects a duration like 30s, 15m or 1h, got "${every}"`);
  if (!(ms >= 1000)) throw new Error(`--every must be at least 1s, got "${every}"`);
  return every;
}

async function schedule(
  client: Client,
  input: FetchLogsInput,
  every: string,
): Promise<'created' | 'updated'> {
  const scheduleId = logScheduleId(input.cluster);
  const action: ScheduleOptionsStartWorkflowAction<typeof fetchLogsWorkflow> = {
    type: 'startWorkflow',
    workflowType: fetchLogsWorkflow,
    workflowId: scheduleId,
    taskQueue: SHARED_TASK_QUEUE,
    args: [input],
    typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: input.cluster }],
    staticSummary: `scheduled log fetch of ${input.cluster} (${input.sources.length} machines)`,
  };
  // A fetch still running when the next is due is not doubled: rsync of the same folders twice
  // at once only competes for the same bytes.
  const policies = { overlap: ScheduleOverlapPolicy.SKIP };
  const spec = { intervals: [{ every }] };
  try {
    await client.schedule.create({ scheduleId, spec, action, policies });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
    await client.schedule.getHandle(scheduleId).update((previous): ScheduleUpdateOptions<typeof action> => ({
      ...previous,
      spec,
      action,
      policies: { ...previous.policies, ...policies },
    }));
    return 'updated';
  }
}

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
      await withClient(async (client) => {
        const input = await resolveInput(client, cluster, flags);
        const result = await client.workflow.execute(fetchLogsWorkflow, {
          workflowId: `${logScheduleId(input.cluster)}/fetch-${Date.now()}`,
          taskQueue: SHARED_TASK_QUEUE,
          args: [input],
          typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: input.cluster }],
          staticSummary: `log fetch of ${input.cluster} (${input.sources.length} machines)`,
        });
        process.exitCode = printResult(result);
      });
    });

  source(logs.command('schedule'))
    .description('fetch the logs on a Temporal Schedule (logs/<cluster>); running it again updates it')
    .requiredOption('--every <duration>', 'interval, e.g. 15m', parseEvery)
    .action(async (cluster: string | undefined, flags: SourceFlags & { every: string }) => {
      await withClient(async (client) => {
        const input = await resolveInput(client, cluster, flags);
        const outcome = await schedule(client, input, flags.every);
        console.log(`${outcome} schedule ${logScheduleId(input.cluster)}: every ${flags.every}`);
      });
    });

  logs
    .command('unschedule')
    .description("delete a cluster's log Schedule")
    .argument('[cluster]', 'cluster name (default: the only cluster running)')
    .option('-i, --inventory <file>', 'take the cluster name from this inventory')
    .action(async (cluster: string | undefined, flags: { inventory?: string }) => {
      await withClient(async (client) => {
        const name = await resolveCluster(client, cluster, flags.inventory);
        try {
          await client.schedule.getHandle(logScheduleId(name)).delete();
          console.log(`deleted schedule ${logScheduleId(name)}`);
        } catch (err) {
          if (!(err instanceof ScheduleNotFoundError)) throw err;
          console.error(`no log schedule for ${name}`);
          process.exitCode = 1;
        }
      });
    });

  logs
    .command('list')
    .description('list the log Schedules with their next run times')
    .action(async () => {
      await withClient(async (client) => {
        let n = 0;
        for await (const s of client.schedule.list()) {
          if (!s.scheduleId.startsWith('logs/')) continue;
          const every = s.spec?.intervals
            ?.map((i) => `${Math.round((durationMs(i.every) ?? 0) / 1000)}s`)
            .join(',');
          const next = s.info.nextActionTimes[0]?.toISOString() ?? '-';
          const last = s.info.recentActions.at(-1)?.takenAt.toISOString() ?? 'never';
          console.log(
            `${s.scheduleId.padEnd(28)} every ${String(every).padEnd(8)} next ${next}  last ${last}${s.state.paused ? '  (paused)' : ''}`,
          );
          n++;
        }
        if (n === 0) console.log('no log schedules');
      });
    });
}
