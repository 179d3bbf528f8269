import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

/**
 * Size of workflow histories, the way Temporal's limits count them: events and encoded bytes of
 * each run, and the largest single payload in it. Walks a workflow's continue-as-new chain and
 * its child workflows (bench:scale, test/workflow/scaleHistory.test.ts).
 */
export interface RunStats {
  workflowId: string;
  runId: string;
  type: string;
  events: number;
  bytes: number;
  largestPayload: number;
  largestPayloadWhere: string;
  /** Per activity type: every completed attempt's queue wait (scheduled → started) and run time. */
  activities: Record<string, { waitMs: number[]; runMs: number[] }>;
}

const eventMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

function activityTimes(history: temporal.api.history.v1.IHistory): RunStats['activities'] {
  const scheduled = new Map<string, { type: string; at: number }>();
  const started = new Map<string, number>();
  const out: RunStats['activities'] = {};
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), { type: s.activityType?.name ?? '?', at: eventMs(e.eventTime) });
    const st = e.activityTaskStartedEventAttributes;
    if (st) started.set(String(st.scheduledEventId), eventMs(e.eventTime));
    const c = e.activityTaskCompletedEventAttributes;
    if (c) {
      const sch = scheduled.get(String(c.scheduledEventId));
      const start = started.get(String(c.scheduledEventId));
      if (!sch || start === undefined) continue;
      const entry = (out[sch.type] ??= { waitMs: [], runMs: [] });
      entry.waitMs.push(start - sch.at);
      entry.runMs.push(eventMs(e.eventTime) - start);
    }
  }
  return out;
}

const payloadSize = (p: temporal.api.common.v1.IPayload) =>
  temporal.api.common.v1.Payload.encode(p).finish().length;

function largestPayloadOf(history: temporal.api.history.v1.IHistory): { size: number; where: string } {
  let best = { size: 0, where: '' };
  const visit = (value: unknown, where: string): void => {
    if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      for (const v of value) visit(v, where);
      return;
    }
    for (const [k, v] of Object.entries(value)) {
      if (k === 'payloads' && Array.isArray(v)) {
        for (const p of v as temporal.api.common.v1.IPayload[]) {
          const size = payloadSize(p);
          if (size > best.size) best = { size, where };
        }
      } else visit(v, where);
    }
  };
  for (const e of history.events ?? []) {
    const kind = Object.keys(e).find(
      (k) => k.endsWith('EventAttributes') && (e as Record<string, unknown>)[k],
    );
    visit(e, kind?.replace(/EventAttributes$/, '') ?? 'event');
  }
  return best;
}

/**
 * A run's history in pages of 100 events: the client's own fetch asks for the server's default
 * page, which for a history of large events can exceed gRPC's 4 MB message limit.
 */
async function fetchHistory(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<temporal.api.history.v1.History> {
  const events: temporal.api.history.v1.IHistoryEvent[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await client.workflowService.getWorkflowExecutionHistory({
      namespace: client.options.namespace,
      execution: { workflowId, runId },
      maximumPageSize: 100,
      ...(nextPageToken && { nextPageToken }),
    });
    events.push(...(page.history?.events ?? []));
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return temporal.api.history.v1.History.create({ events });
}

/** Every run of the cluster workflow (continue-as-new chain) and of its child workflows. */
export async function historyStats(
  client: Client,
  workflowId: string,
  firstRunId: string,
): Promise<RunStats[]> {
  const out: RunStats[] = [];
  const queue: { workflowId: string; runId: string }[] = [{ workflowId, runId: firstRunId }];
  while (queue.length > 0) {
    const { workflowId: id, runId } = queue.shift()!;
    const history = await fetchHistory(client, id, runId);
    const events = history.events ?? [];
    const type = events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
    const largest = largestPayloadOf(history);
    out.push({
      workflowId: id,
      runId,
      type,
      events: events.length,
      bytes: temporal.api.history.v1.History.encode(history).finish().length,
      largestPayload: largest.size,
      largestPayloadWhere: largest.where,
      activities: activityTimes(history),
    });
    for (const e of events) {
      const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution;
      if (child?.workflowId && child.runId) queue.push({ workflowId: child.workflowId, runId: child.runId });
      const next = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
      if (next) queue.push({ workflowId: id, runId: next });
    }
  }
  return out;
}
