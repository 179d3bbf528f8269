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
export function stepAttempts(description: WorkflowExecutionDescription): StepAttempt[] {
  const pending = description.raw.pendingActivities ?? [];
  const out: StepAttempt[] = [];
  for (const a of pending) {
    const [host, phase] = (a.activityId ?? '').split('/');
    if (!host || !phase) continue;
    if ((a.attempt ?? 1) <= 1 && !a.lastFailure) continue;
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
    });
  }
  return out;
}

/** "p0 · run_docker: attempt 3 of 5 — last: ConnectionError: … (next in 8 s)" */
export function describeAttempt(a: StepAttempt, now = Date.now()): string {
  const of = a.maximumAttempts > 0 ? ` of ${a.maximumAttempts}` : '';
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
