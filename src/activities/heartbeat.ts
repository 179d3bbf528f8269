import { Context } from '@temporalio/activity';
import { silenceOf } from '../remote/silence';
import { TIMEOUTS } from './timeouts';

/** A host that has not answered for this long is reported in the heartbeat (noAnswerForMs). */
export const SILENCE_REPORTED_MS = 10_000;

/**
 * The host a step runs on, from the activity ID the cluster workflow gives its steps
 * (`<host>/<phase>/<n>`); undefined for other activities.
 */
function stepHost(activityId: string): string | undefined {
  const [host, phase, n] = activityId.split('/');
  return host && phase && n ? host : undefined;
}

/**
 * Heartbeat every `intervalMs` while `work` runs, so the server notices a dead worker within the
 * heartbeat timeout and so this activity learns of a cancellation (delivered on heartbeat).
 * `work` gets the activity's cancellation signal to pass to remote commands. While the step's host
 * does not answer on its SSH connection (src/remote/silence.ts), the details carry
 * `noAnswerForMs`, which `deploy status` shows before the attempt itself gives up.
 */
export async function withHeartbeat<T>(
  work: (signal: AbortSignal, progress: (details: unknown) => void) => Promise<T>,
  intervalMs: number = TIMEOUTS.heartbeat,
): Promise<T> {
  const ctx = Context.current();
  const host = stepHost(ctx.info.activityId);
  let details: unknown;
  ctx.heartbeat(details);
  const timer = setInterval(() => {
    const silent = host === undefined ? undefined : silenceOf(host);
    if (silent === undefined || silent < SILENCE_REPORTED_MS) ctx.heartbeat(details);
    else ctx.heartbeat({ ...(details as object | undefined), noAnswerForMs: silent });
  }, intervalMs);
  try {
    return await work(ctx.cancellationSignal, (d) => {
      details = d;
      ctx.heartbeat(d);
    });
  } finally {
    clearInterval(timer);
  }
}
