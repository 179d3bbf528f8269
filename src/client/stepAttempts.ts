import type { WorkflowExecutionDescription } from '@temporalio/client';

/** A host step that failed at least once and is being retried by the server. */
export interface StepAttempt {
  host: string;
  phase: string;
  /** The attempt running or due now (2 = first retry). */
  attempt: number;
  /** 0 = unlimited. */
  maximumAttempts: number;
  /** The previous attempt's failure, as the activity classified it. */
  lastError?: { type: string; message: string };
  /** When the next attempt starts, while waiting out the backoff (ISO time). */
  nextAttemptAt?: string;
  /**
   * How long the step's host has not answered on its SSH connection while this attempt waits
   * on it (the activity's heartbeat says so, src/activities/heartbeat.ts), as of `at`.
   */
  noAnswerForMs?: number;
}

interface Payloads {
  payloads?: { metadata?: Record<string, Uint8Array> | null; data?: Uint8Array | null }[] | null;
}

/** `noAnswerForMs` of a step's last heartbeat (JSON details), grown by the time since it was sent. */
function noAnswerFor(
  details: Payloads | null | undefined,
  sentAt: number | undefined,
  now: number,
): number | undefined {
  const p = details?.payloads?.[0];
  if (!p?.data || Buffer.from(p.metadata?.encoding ?? []).toString() !== 'json/plain') return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(p.data).toString()) as { noAnswerForMs?: unknown } | null;
    const ms = parsed?.noAnswerForMs;
    if (typeof ms !== 'number') return undefined;
    return ms + (sentAt !== undefined ? Math.max(0, now - sentAt) : 0);
  } catch {
    return undefined;
  }
}

type Timestamp =
  { seconds?: { toNumber(): number } | number | null; nanos?: number | null } | null | undefined;

const millis = (t: Timestamp): number | undefined => {
  if (!t?.seconds) return undefined;
  const s = typeof t.seconds === 'number' ? t.seconds : t.seconds.toNumber();
  return s * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
};

/**
 * While a step retries, its attempt number and last error exist only in the server's record of
 * pending activities, not in the workflow (Temporal retries an activity without waking the
 * workflow). The cluster workflow names its activities `<host>/<phase>/<n>`, so the pending ones
 * map back to the host × phase table.
 */
export function stepAttempts(description: WorkflowExecutionDescription, now = Date.now()): StepAttempt[] {
  const pending = description.raw.pendingActivities ?? [];
  const out: StepAttempt[] = [];
  for (const a of pending) {
    const [host, phase] = (a.activityId ?? '').split('/');
    if (!host || !phase) continue;
    const silent = noAnswerFor(a.heartbeatDetails, millis(a.lastHeartbeatTime as Timestamp), now);
    if ((a.attempt ?? 1) <= 1 && !a.lastFailure && silent === undefined) continue;
    const failure = a.lastFailure;
    const next = millis(a.nextAttemptScheduleTime as Timestamp);
    out.push({
      host,
      phase,
      attempt: a.attempt ?? 1,
      maximumAttempts: a.maximumAttempts ?? 0,
      ...(failure && {
        lastError: {
          type: failure.applicationFailureInfo?.type || 'Error',
          message: failure.message ?? '',
        },
      }),
      ...(next !== undefined && { nextAttemptAt: new Date(next).toISOString() }),
      ...(silent !== undefined && { noAnswerForMs: silent }),
    });
  }
  return out;
}

/**
 * "p0 · run_docker: attempt 3 of 5 — last: ConnectionError: … (next in 8 s)", or while the host
 * is silent "d1 · run_docker: no answer from d1 for 15 s (attempt 1 of 5)".
 */
export function describeAttempt(a: StepAttempt, now = Date.now()): string {
  const of = a.maximumAttempts > 0 ? ` of ${a.maximumAttempts}` : '';
  if (a.noAnswerForMs !== undefined) {
    const last = a.lastError ? ` — last: ${a.lastError.type}: ${a.lastError.message}` : '';
    return `${a.host} · ${a.phase}: no answer from ${a.host} for ${Math.round(a.noAnswerForMs / 1000)} s (attempt ${a.attempt}${of}${last})`;
  }
  const last = a.lastError ? ` — last: ${a.lastError.type}: ${a.lastError.message}` : '';
  const wait = a.nextAttemptAt ? Date.parse(a.nextAttemptAt) - now : 0;
  const next = wait > 0 ? ` (next in ${Math.ceil(wait / 1000)} s)` : '';
  return `${a.host} · ${a.phase}: attempt ${a.attempt}${of}${last}${next}`;
}

/**
 * The workflow's own task failing over and over (a worker that cannot run or complete it: e.g. a
 * search attribute the server does not know, a non-deterministic change) leaves every step
 * "running" and nothing moving; only the server's pending workflow task says so. One line, from
 * the third attempt on.
 */
export function workflowTaskTrouble(description: WorkflowExecutionDescription): string | undefined {
  const attempt = description.raw.pendingWorkflowTask?.attempt ?? 0;
  if (attempt < 3) return undefined;
  return (
    `the cluster workflow's task has failed ${attempt - 1} times in a row: nothing moves until a ` +
    `worker can run it; its log says why (\`deploy worker\` output, or .state/worker/worker.log)`
  );
}
