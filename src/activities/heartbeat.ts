import { Context } from '@temporalio/activity';
import { TIMEOUTS } from './timeouts';

/**
 * Heartbeat every `intervalMs` while `work` runs, so the server notices a dead worker within the
 * heartbeat timeout and so this activity learns of a cancellation (delivered on heartbeat).
 * `work` gets the activity's cancellation signal to pass to remote commands.
 */
export async function withHeartbeat<T>(
  work: (signal: AbortSignal, progress: (details: unknown) => void) => Promise<T>,
  intervalMs: number = TIMEOUTS.heartbeat,
): Promise<T> {
  const ctx = Context.current();
  let details: unknown;
  ctx.heartbeat(details);
  const timer = setInterval(() => ctx.heartbeat(details), intervalMs);
  try {
    return await work(ctx.cancellationSignal, (d) => {
      details = d;
      ctx.heartbeat(d);
    });
  } finally {
    clearInterval(timer);
  }
}
