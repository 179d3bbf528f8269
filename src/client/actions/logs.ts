import type { Client, ScheduleOptionsStartWorkflowAction, ScheduleUpdateOptions } from '@temporalio/client';
import {
  defaultPayloadConverter,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
} from '../../temporal/clientSdk';
import { durationMs } from '../../shared/duration';
import { planFromFile } from '../planFile';
import { clusterWorkflowId } from '../../shared/ids';
import { DEPLOY_CLUSTER } from '../../shared/searchAttributes';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../shared/taskQueues';
import { expandPlan } from '../../plan/compact';
import type { DeployClusterInput } from '../../workflows/cluster/deployCluster';
import type { FetchLogsResult } from '../../workflows/fetchLogs';
import { fetchLogsInput, type FetchLogsInput } from '../../workflows/logSources';
import { withClient } from '../temporalClient';
import { FETCH_LOGS_WORKFLOW, type FetchLogsWorkflow } from '../workflowTypes';
import { parseExtraVars } from './planInput';
import { resolveCluster } from './status';

/** The Schedule of a cluster's log fetch: one per cluster, so creating it again updates it. */
export function logScheduleId(cluster: string): string {
  return `logs/${cluster}`;
}

export interface SourceFlags {
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
  return fetchLogsInput(expandPlan(plan), queue, tuning(flags));
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

/** `--every`: a duration like 30s, 15m or 1h (src/shared/duration), at least a second. */
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
  const action: ScheduleOptionsStartWorkflowAction<FetchLogsWorkflow> = {
    type: 'startWorkflow',
    workflowType: FETCH_LOGS_WORKFLOW,
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

/** `deploy logs fetch`: exit code 2 when a machine could not be reached. */
export async function fetchLogs(cluster: string | undefined, flags: SourceFlags): Promise<number> {
  return withClient(async (client) => {
    const input = await resolveInput(client, cluster, flags);
    const result = await client.workflow.execute<FetchLogsWorkflow>(FETCH_LOGS_WORKFLOW, {
      workflowId: `${logScheduleId(input.cluster)}/fetch-${Date.now()}`,
      taskQueue: SHARED_TASK_QUEUE,
      args: [input],
      typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: input.cluster }],
      staticSummary: `log fetch of ${input.cluster} (${input.sources.length} machines)`,
    });
    return printResult(result);
  });
}

export async function scheduleLogs(
  cluster: string | undefined,
  flags: SourceFlags & { every: string },
): Promise<void> {
  const every = parseEvery(flags.every);
  await withClient(async (client) => {
    const input = await resolveInput(client, cluster, flags);
    const outcome = await schedule(client, input, every);
    console.log(`${outcome} schedule ${logScheduleId(input.cluster)}: every ${every}`);
  });
}

export async function unscheduleLogs(
  cluster: string | undefined,
  flags: { inventory?: string },
): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    try {
      await client.schedule.getHandle(logScheduleId(name)).delete();
      console.log(`deleted schedule ${logScheduleId(name)}`);
      return 0;
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      console.error(`no log schedule for ${name}`);
      return 1;
    }
  });
}

export async function listLogSchedules(): Promise<void> {
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
}
