import {
  ActivityCancellationType,
  patched,
  proxyActivities,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { Phase } from '../../shared/phases';
import { hostStepRetry } from '../common';
import { ACTIVITY_IDS_NAME_HOST, CANCEL_WAITS_FOR_STEPS } from '../patches';
import type { StepActivities } from './hostSteps';
import type { ActivityTuning } from './types';

/** Which of the host-step activity options a run uses (older cluster runs lack some). */
export interface HostActivityFeatures {
  /** IDs `<host>/<phase>/<n>`, which `deploy status` reads a retrying step's record by. */
  namedIds: boolean;
  /** Cancellation waits until the step has stopped on its host. */
  waitForCancellation: boolean;
}

/**
 * The cluster workflow asks its patches, in this order, at every stub it makes: runs started
 * before either change replay without it.
 */
export function clusterRunFeatures(): HostActivityFeatures {
  const namedIds = patched(ACTIVITY_IDS_NAME_HOST);
  return { namedIds, waitForCancellation: patched(CANCEL_WAITS_FOR_STEPS) };
}

/** hostStepsWorkflow was written after both changes: it always uses them, without markers. */
export function childRunFeatures(): HostActivityFeatures {
  return { namedIds: true, waitForCancellation: true };
}

export interface HostActivitySettings {
  activity: ActivityTuning;
  /** A repair's own retry policy for host steps, replacing `activity.retry` while set. */
  retryOverride?: ActivityTuning['retry'];
  executorTaskQueue: string;
}

/**
 * Activity stubs for host steps, shared by the cluster workflow and its hostStepsWorkflow children
 * so a step's activity is scheduled the same way in either. The Web UI summary names host and
 * phase ("p0 · run_docker"), and so does the activity ID ("p0/run_docker/7"): while a step is
 * retrying, the only place its attempt number and last error live is the server's pending-activity
 * record, which `deploy status` reads by this ID (see activityProgress in the client). A cancelled
 * step is awaited until it has really stopped on its host (it learns of the cancellation by
 * heartbeat), so the cleanup that follows never races it: with the default TRY_CANCEL a
 * `docker run` still in flight created its container after cleanup had looked.
 */
export class HostActivities implements StepActivities {
  private seq = 0;

  constructor(
    private readonly settings: () => HostActivitySettings,
    private readonly features: () => HostActivityFeatures,
  ) {}

  activities(host: string, phase: Phase, overrides: Partial<ActivityOptions> = {}): Activities {
    const { activity: t, retryOverride } = this.settings();
    const { namedIds, waitForCancellation } = this.features();
    return proxyActivities<Activities>({
      ...(namedIds && { activityId: `${host}/${phase}/${++this.seq}` }),
      startToCloseTimeout: t.startToCloseTimeout,
      heartbeatTimeout: t.heartbeatTimeout,
      retry: hostStepRetry(retryOverride ?? t.retry),
      summary: `${host} · ${phase}`,
      ...(waitForCancellation && { cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED }),
      ...overrides,
    });
  }

  /** For steps that need the executor machine's own disk (code sync source, log destination). */
  executorActivities(host: string, phase: Phase): Activities {
    return this.activities(host, phase, { taskQueue: this.settings().executorTaskQueue });
  }

  get executorTaskQueue(): string {
    return this.settings().executorTaskQueue;
  }
}
