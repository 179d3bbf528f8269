import { sleep } from '@temporalio/activity';
import { ConnectionError } from '../remote';
import type { ActivityDeps } from './deps';
import { classified } from './failures';
import { withHeartbeat } from './heartbeat';
import { TIMEOUTS } from './timeouts';
import type { AwaitHostInput, AwaitHostResult } from './types';

/**
 * Wait until a host answers SSH again (`true` runs), trying every `pollMs`: what a repair does
 * with a host that is powered off, rebooting or cut off, instead of spending its attempts on it.
 * Only "does not answer" is waited out; a refused key or a changed host key fails at once (that
 * needs the operator). The heartbeat carries how long the wait has lasted and the last error.
 */
export async function awaitHostAnswers(
  { remote }: ActivityDeps,
  input: AwaitHostInput,
): Promise<AwaitHostResult> {
  const started = Date.now();
  return classified(() =>
    withHeartbeat(async (signal, progress) => {
      for (let tries = 1; ; tries++) {
        try {
          await remote.exec(input.target, ['true'], { signal, timeoutMs: TIMEOUTS.sshCheck });
          return { waitedMs: Date.now() - started, tries };
        } catch (err) {
          if (!(err instanceof ConnectionError)) throw err;
          progress({ waitingForMs: Date.now() - started, lastError: err.message });
          await sleep(input.pollMs); // rejects when the activity is cancelled
        }
      }
    }),
  );
}
