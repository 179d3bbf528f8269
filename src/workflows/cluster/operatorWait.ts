import { condition } from '@temporalio/workflow';
import type { RolloutOutcome } from './messages';

/**
 * What the operator answers a phase that failed and waits: `retry` (`deploy retry`: run the
 * failed hosts again) or `abandon` (`deploy rollback` of a rollout that stopped: revert it).
 * The third answer, `deploy down`, is the workflow's cancellation: the wait rejects with it, and
 * the loop cleans every host up.
 */
export type OperatorAnswer = 'retry' | 'abandon';

/**
 * The one place the cluster waits for the operator. The phase runner calls `wait()`; the message
 * handlers call `retry()` or `abandon()`, which resolve once the runner has acted on the answer
 * (a retry taken; a rollout reverted, with the revert's outcome). Plain fields read by
 * `condition()`, so a replay wakes every waiter at the same point as the run it replays.
 */
export class OperatorWait {
  /** Given by a handler, not yet taken by the runner. */
  private answer: OperatorAnswer | undefined;
  /** The outcome of the revert an `abandon` asked for, once it finished. */
  private reverted: RolloutOutcome | undefined;

  /** `until` is the workflow's `condition` (a test passes its own). */
  constructor(private readonly until: (fn: () => boolean) => Promise<void> = condition) {}

  /** For the phase runner: waits for an answer and takes it. */
  async wait(): Promise<OperatorAnswer> {
    await this.until(() => this.answer !== undefined);
    const answer = this.answer!;
    this.answer = undefined;
    return answer;
  }

  /** `deploy retry`: resolves once the runner has taken the answer (its re-run starts). */
  async retry(): Promise<void> {
    this.answer = 'retry';
    await this.until(() => this.answer !== 'retry');
  }

  /** `deploy rollback` of a rollout that waits: resolves with the revert's outcome. */
  async abandon(): Promise<RolloutOutcome> {
    this.answer = 'abandon';
    await this.until(() => this.reverted !== undefined);
    const done = this.reverted!;
    this.reverted = undefined;
    return done;
  }

  /** For the rollout runner: the revert `abandon()` asked for finished with `outcome`. */
  reportReverted(outcome: RolloutOutcome): void {
    this.reverted = outcome;
  }
}
