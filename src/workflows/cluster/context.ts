import {
  ActivityCancellationType,
  isCancellation,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { hostError, hostStepRetry, settleBounded } from '../common';
import type { ClusterState } from './state';
import type { ActivityTuning, DeployOptions } from './types';

/** A phase could not finish on some hosts; the runner waits for the operator. */
export class PhaseFailed extends Error {
  constructor(readonly phase: Phase) {
    super(`phase ${phase} failed on some hosts`);
  }
}

/**
 * What a phase implementation gets: the plan, the state table, and `fanOut`, which runs one step
 * on many hosts with bounded parallelism, records each host's cell and skips hosts whose step
 * already finished (so a retry re-runs only the failed ones).
 */
export class PhaseContext {
  constructor(
    public plan: Plan,
    readonly state: ClusterState,
    readonly options: DeployOptions,
    private readonly onChange: () => void,
  ) {}

  private activitySeq = 0;

  /**
   * While set, host steps retry by this instead of the deploy's policy: a repair tries each step
   * briefly (a host that is still down fails its attempt in seconds) and keeps its own attempts.
   */
  retryOverride: ActivityTuning['retry'] | undefined;

  /**
   * Activity stubs whose Web UI summary names host and phase ("p0 · run_docker"). Their activity
   * ID does too ("p0/run_docker/7"): while a step is retrying, the only place its attempt number
   * and last error live is the server's pending-activity record, which `deploy status` reads by
   * this ID (see activityProgress in the client).
   */
  activities(host: string, phase: Phase, overrides: Partial<ActivityOptions> = {}): Activities {
    const t = this.options.activity;
    const id = patched('activity-ids-name-host') ? `${host}/${phase}/${++this.activitySeq}` : undefined;
    return proxyActivities<Activities>({
      ...(id !== undefined && { activityId: id }),
      startToCloseTimeout: t.startToCloseTimeout,
      heartbeatTimeout: t.heartbeatTimeout,
      retry: hostStepRetry(this.retryOverride ?? t.retry),
      summary: `${host} · ${phase}`,
      // A cancelled step is awaited until it has really stopped on its host (it learns of the
      // cancellation by heartbeat), so the cleanup that follows never races it: with the default
      // TRY_CANCEL a `docker run` still in flight created its container after cleanup had looked.
      // Runs started before this change replay without it.
      ...(patched('cancel-waits-for-steps') && {
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      }),
      ...overrides,
    });
  }

  /** For steps that need the executor machine's own disk (code sync source, log destination). */
  executorActivities(host: string, phase: Phase): Activities {
    return this.activities(host, phase, { taskQueue: this.options.executorTaskQueue });
  }

  async fanOut<R>(
    step: string,
    phase: Phase,
    hosts: readonly string[],
    work: (host: string) => Promise<R>,
    note?: (result: R) => string | undefined,
  ): Promise<void> {
    const todo = hosts.filter((h) => !this.state.isDone(step, h));
    let cancelled: unknown;
    let failed = false;
    await settleBounded(todo, this.options.parallelism, async (host) => {
      // Marked when its slot comes up, so a host queued behind the parallelism bound shows pending.
      this.state.markRunning(host, phase, Date.now());
      this.onChange();
      try {
        const result = await work(host);
        this.state.markStepDone(step, host, phase, Date.now(), note?.(result));
      } catch (err) {
        if (isCancellation(err)) {
          cancelled ??= err;
        } else {
          failed = true;
          this.state.markFailed(host, phase, Date.now(), hostError(err));
        }
      }
      this.onChange();
    });
    if (cancelled !== undefined) throw cancelled;
    if (failed) throw new PhaseFailed(phase);
  }
}
