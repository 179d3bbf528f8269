import { executeChild } from '@temporalio/workflow';
import { DEPLOY_CLUSTER } from '../../shared/searchAttributes';
import { fetchLogsWorkflow, type FetchLogsResult, type HostLogsOutcome } from '../fetchLogs';
import { fetchLogsInput } from '../logSources';
import type { PhaseContext } from './context';

/**
 * The fetch_log phase: the same child workflow the `logs/<cluster>` Schedule runs (one child
 * instead of one activity per host keeps this long-lived history small). A host that is down is
 * shown failed in its cell but does not stop the cluster: logs of the others are what help.
 */
export async function runFetchLogPhase(ctx: PhaseContext): Promise<void> {
  const { plan, options, state } = ctx;
  const all = fetchLogsInput(plan, options.executorTaskQueue, {
    parallelism: options.parallelism,
    maximumAttempts: options.activity.retry.maximumAttempts,
  });
  const sources = all.sources.filter((s) => !state.isDone('fetch_log', s.host));
  for (const s of all.sources) {
    for (const mate of s.sharedWith) state.markSkipped(mate, 'fetch_log', `same machine as ${s.host}`);
  }
  let child: Promise<FetchLogsResult> | undefined;
  const fetched = () =>
    (child ??= executeChild(fetchLogsWorkflow, {
      workflowId: `logs/${plan.cluster}/fetch_log-${Date.now()}`,
      args: [{ ...all, sources }],
      typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: plan.cluster }],
      staticSummary: `fetch_log phase of ${plan.cluster}: ${sources.length} machines`,
    }));
  const outcomes: HostLogsOutcome[] = [];
  await ctx.fanOut(
    'fetch_log',
    'fetch_log',
    sources.map((s) => s.host),
    async (host) => {
      const outcome = (await fetched()).hosts.find((h) => h.host === host)!;
      outcomes.push(outcome);
      return outcome;
    },
    (o) => (o.ok ? `${o.bytesReceived} B, ${o.files} files` : undefined),
  );
  for (const o of outcomes) if (o.error) state.markFailed(o.host, 'fetch_log', Date.now(), o.error);
}
