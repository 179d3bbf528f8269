import {
  continueAsNew,
  defineSignal,
  getExternalWorkflowHandle,
  isCancellation,
  workflowInfo,
} from '@temporalio/workflow';
import { expandPlan, type PlanInput } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { hostError } from '../common';
import { runHostStep, type HostStepOutcome, type HostStepSpec, type HostStepsProgress } from './hostSteps';
import { copyFanOut, fanOutSettings } from './copyFanOut';
import { HostActivities, childRunFeatures } from './hostActivities';
import type { ActivityTuning } from './types';

/** Sent by hostStepsWorkflow to its parent cluster workflow as its hosts start and finish. */
export const hostStepsProgressSignal = defineSignal<[HostStepsProgress]>('hostStepsProgress');

export interface HostStepsInput {
  /** The cluster's Plan as the cluster workflow was given it (compact: rebuilt here). */
  plan: PlanInput;
  /** The cluster workflow's step name (its table records each host's step under it). */
  step: string;
  phase: Phase;
  spec: HostStepSpec;
  /** The hosts still to do (a continued run gets the rest). */
  hosts: string[];
  parallelism: number;
  activity: ActivityTuning;
  /** A repair's own retry policy for host steps (see PhaseContext.retryOverride). */
  retryOverride?: ActivityTuning['retry'];
  executorTaskQueue: string;
  /** Outcomes per progress signal; 0 sends none (the result alone tells). */
  progressBatch: number;
  /** Outcomes of the earlier runs of this chain (continue-as-new). */
  done?: HostStepOutcome[];
}

export interface HostStepsResult {
  outcomes: HostStepOutcome[];
}

/** A run of this workflow continues as new beyond these (its hosts' inputs make its history). */
export const HOST_STEPS_RUN_BUDGET = { events: 2_000, bytes: 2 * 1024 * 1024 };

/**
 * One step of the cluster workflow over many hosts (hundreds of hosts per step would put
 * thousands of events and megabytes of inputs in the cluster's own history): each host's activity
 * exactly as the cluster workflow would run it — same inputs, IDs `<host>/<phase>/<n>`, summaries,
 * retries, cancellation that waits for the host — at most `parallelism` at once. A host's failure
 * is an outcome, not an error; only cancellation ends this early. Progress goes to the parent in
 * batches so its status table stays live. Past HOST_STEPS_RUN_BUDGET a run starts no more hosts,
 * lets those running finish and continues as new with the rest: every run's history stays small
 * however many hosts, and the parent sees one child.
 */
export async function hostStepsWorkflow(input: HostStepsInput): Promise<HostStepsResult> {
  const plan = expandPlan(input.plan);
  const acts = new HostActivities(() => input, childRunFeatures);
  const progress = new Progress(input);
  const outcomes: HostStepOutcome[] = [...(input.done ?? [])];
  if (input.spec.kind === 'copyFanOut') {
    await copyInOneRun(input, input.spec, acts, plan, progress, outcomes);
    return { outcomes };
  }
  let cancelled: unknown;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.hosts.length && cancelled === undefined && !overBudget()) {
      const host = input.hosts[next++]!;
      progress.add({ host, state: 'running', at: Date.now() });
      let outcome: HostStepOutcome;
      try {
        const r = await runHostStep(acts, plan, input.phase, input.spec, host);
        outcome = { host, state: 'done', at: Date.now(), ...(r.note !== undefined && { note: r.note }) };
        if (r.kept !== undefined) outcome.kept = r.kept;
      } catch (err) {
        if (isCancellation(err)) {
          cancelled ??= err;
          return;
        }
        outcome = { host, state: 'failed', at: Date.now(), error: hostError(err) };
      }
      outcomes.push(outcome);
      const { kept: _kept, ...shown } = outcome;
      progress.add(shown);
    }
  };
  const lanes = Math.max(1, Math.min(input.parallelism, input.hosts.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  if (cancelled !== undefined) throw cancelled;
  await progress.idle();
  if (next < input.hosts.length) {
    return continueAsNew<typeof hostStepsWorkflow>({
      ...input,
      hosts: input.hosts.slice(next),
      done: outcomes,
    });
  }
  return { outcomes };
}

/**
 * A copy fan-out: one schedule over all the hosts, in this run (a copy is a few events: 512 hosts
 * stay within a run's budget), its outcomes reported as the lanes report theirs.
 */
async function copyInOneRun(
  input: HostStepsInput,
  spec: Extract<HostStepSpec, { kind: 'copyFanOut' }>,
  acts: HostActivities,
  plan: Plan,
  progress: Progress,
  outcomes: HostStepOutcome[],
): Promise<void> {
  const report = (o: HostStepOutcome) => {
    if (o.state !== 'running') outcomes.push(o);
    progress.add(o);
  };
  await copyFanOut(
    {
      acts,
      plan,
      parallelism: input.parallelism,
      running: (host) => report({ host, state: 'running', at: Date.now() }),
      done: (host, note) => report({ host, state: 'done', at: Date.now(), note }),
      failed: (host, error) => report({ host, state: 'failed', at: Date.now(), error }),
    },
    spec.artefact,
    input.hosts,
    spec.holders,
    fanOutSettings(spec.fanOut, input.hosts.length),
  );
  await progress.idle();
}

function overBudget(): boolean {
  const info = workflowInfo();
  return (
    info.continueAsNewSuggested ||
    info.historyLength >= HOST_STEPS_RUN_BUDGET.events ||
    info.historySize >= HOST_STEPS_RUN_BUDGET.bytes
  );
}

/** Batches outcomes into signals to the parent, one signal in flight at a time. */
class Progress {
  private pending: HostStepOutcome[] = [];
  private sending: Promise<void> = Promise.resolve();

  constructor(private readonly input: HostStepsInput) {}

  add(outcome: HostStepOutcome): void {
    if (this.input.progressBatch <= 0 || !workflowInfo().parent) return;
    this.pending.push(outcome);
    if (this.pending.length >= this.input.progressBatch) this.flush();
  }

  private flush(): void {
    const outcomes = this.pending;
    this.pending = [];
    const parent = workflowInfo().parent!;
    const signal = { step: this.input.step, phase: this.input.phase, outcomes };
    // Progress only: a lost signal costs the parent a live cell, never a result.
    this.sending = this.sending.then(() =>
      getExternalWorkflowHandle(parent.workflowId, parent.runId)
        .signal(hostStepsProgressSignal, signal)
        .catch(() => undefined),
    );
  }

  /** Waits for the signals in flight; what is still pending the result carries anyway. */
  idle(): Promise<void> {
    return this.sending;
  }
}
