import {
  executeChild,
  isCancellation,
  patched,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { PlanInput } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { hostError, settleBounded } from '../common';
import { runHostStep, type HostStepOutcome, type HostStepSpec, type HostStepsProgress } from './hostSteps';
import type { hostStepsWorkflow } from './hostStepsWorkflow';
import type { ClusterState } from './state';
import { copyFanOut, fanOutSettings } from './copyFanOut';
import { DEFAULT_CHILD_STEPS, type ActivityTuning, type DeployOptions } from './types';
import { HOST_STEPS_IN_CHILDREN } from '../patches';
import { HostActivities, clusterRunFeatures } from './hostActivities';

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
  private current: Plan;
  private input: PlanInput;

  constructor(
    plan: Plan,
    readonly state: ClusterState,
    readonly options: DeployOptions,
    /** The Plan as the workflow was given it (compact), what child workflows get. */
    planInput: PlanInput = plan,
  ) {
    this.current = plan;
    this.input = planInput;
  }

  /** The Plan in force. Setting a full Plan (a rollout's) makes it the input too. */
  get plan(): Plan {
    return this.current;
  }

  set plan(plan: Plan) {
    this.current = plan;
    this.input = plan;
  }

  /** The Plan in force as given (compact or full): what child workflows and continue-as-new carry. */
  get planInput(): PlanInput {
    return this.input;
  }

  /** A new Plan as a client gave it (compact or full), with its expansion. */
  setPlanInput(input: PlanInput, expanded: Plan): void {
    this.current = expanded;
    this.input = input;
  }

  /** Steps running in child workflows now: their progress signals are applied, others ignored. */
  private readonly childSteps = new Set<string>();

  /**
   * While set, host steps retry by this instead of the deploy's policy: a repair tries each step
   * briefly (a host that is still down fails its attempt in seconds) and keeps its own attempts.
   */
  retryOverride: ActivityTuning['retry'] | undefined;

  /** Host-step activity stubs (hostActivities.ts), made as this run's patches say. */
  private readonly stubs = new HostActivities(
    () => ({
      activity: this.options.activity,
      ...(this.retryOverride && { retryOverride: this.retryOverride }),
      executorTaskQueue: this.options.executorTaskQueue,
    }),
    clusterRunFeatures,
  );

  activities(host: string, phase: Phase, overrides: Partial<ActivityOptions> = {}): Activities {
    return this.stubs.activities(host, phase, overrides);
  }

  executorActivities(host: string, phase: Phase): Activities {
    return this.stubs.executorActivities(host, phase);
  }

  get executorTaskQueue(): string {
    return this.options.executorTaskQueue;
  }

  /**
   * A step over many hosts, given as data (HostStepSpec): the same as `fanOut` with the spec's
   * activity, except that a step over more than `childSteps.minHosts` hosts runs in a child
   * workflow (hostStepsWorkflow, which continues as new as its own history grows), so the
   * cluster workflow's history grows by a few events per step, not per host. `onKept` receives
   * what a host's step keeps (the hccn_tool outputs of readDeviceIps).
   */
  async hostSteps(
    step: string,
    phase: Phase,
    hosts: readonly string[],
    spec: HostStepSpec,
    onKept?: (host: string, kept: unknown) => void,
  ): Promise<void> {
    const todo = hosts.filter((h) => !this.state.isDone(step, h));
    const split = this.options.childSteps ?? DEFAULT_CHILD_STEPS;
    if (todo.length > split.minHosts && patched(HOST_STEPS_IN_CHILDREN)) {
      return this.hostStepsInChild(step, phase, todo, spec, onKept);
    }
    if (spec.kind === 'copyFanOut') return this.copyFanOutHere(step, phase, todo, spec);
    return this.fanOut(
      step,
      phase,
      hosts,
      async (host) => {
        const r = await runHostStep(this, this.plan, phase, spec, host);
        if (r.kept !== undefined) onKept?.(host, r.kept);
        return r;
      },
      (r) => r.note,
    );
  }

  private async hostStepsInChild(
    step: string,
    phase: Phase,
    hosts: string[],
    spec: HostStepSpec,
    onKept?: (host: string, kept: unknown) => void,
  ): Promise<void> {
    this.childSteps.add(step);
    let failed = false;
    try {
      const result = await executeChild<typeof hostStepsWorkflow>('hostStepsWorkflow', {
        workflowId: `${workflowInfo().workflowId}/${step}`,
        args: [
          {
            plan: this.planInput,
            step,
            phase,
            spec,
            hosts,
            parallelism: this.options.parallelism,
            activity: this.options.activity,
            ...(this.retryOverride && { retryOverride: this.retryOverride }),
            executorTaskQueue: this.options.executorTaskQueue,
            // About eight progress signals per step: a live table for a few dozen events.
            progressBatch: Math.max(8, Math.ceil((2 * hosts.length) / 8)),
          },
        ],
        staticSummary: `${phase} · ${step}: ${hosts.length} hosts`,
      });
      for (const o of result.outcomes) {
        if (o.kept !== undefined && o.state === 'done') onKept?.(o.host, o.kept);
        failed = this.applyOutcome(step, phase, o) || failed;
      }
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The child itself failed (not a host's step): its unfinished hosts failed with it.
      failed = true;
      for (const h of hosts) {
        if (!this.state.isDone(step, h)) this.state.markFailed(h, phase, Date.now(), hostError(err));
      }
    } finally {
      this.childSteps.delete(step);
    }
    if (failed || hosts.some((h) => !this.state.isDone(step, h))) throw new PhaseFailed(phase);
  }

  /** A copy fan-out in this workflow, its hosts' cells kept as fanOut keeps them. */
  private async copyFanOutHere(
    step: string,
    phase: Phase,
    hosts: string[],
    spec: Extract<HostStepSpec, { kind: 'copyFanOut' }>,
  ): Promise<void> {
    let failed = false;
    await copyFanOut(
      {
        acts: this,
        plan: this.plan,
        parallelism: this.options.parallelism,
        running: (h) => this.state.markRunning(h, phase, Date.now()),
        done: (h, note) => this.state.markStepDone(step, h, phase, Date.now(), note),
        failed: (h, error) => {
          failed = true;
          this.state.markFailed(h, phase, Date.now(), error);
        },
      },
      spec.artefact,
      hosts,
      spec.holders,
      fanOutSettings(spec.fanOut, hosts.length),
    );
    if (failed) throw new PhaseFailed(phase);
  }

  /** A child's progress signal: the cells of its hosts, while their step still runs here. */
  applyProgress(progress: HostStepsProgress): void {
    if (!this.childSteps.has(progress.step)) return;
    for (const o of progress.outcomes) this.applyOutcome(progress.step, progress.phase, o);
  }

  /** Returns whether the host's step failed. Idempotent: progress and result may both tell. */
  private applyOutcome(step: string, phase: Phase, o: HostStepOutcome): boolean {
    if (this.state.isDone(step, o.host)) return false;
    if (o.state === 'running') {
      // A child awaits its signals before it completes, so no 'running' comes after its result.
      this.state.markRunning(o.host, phase, o.at);
      return false;
    }
    if (o.state === 'done') {
      this.state.markStepDone(step, o.host, phase, o.at, o.note);
      return false;
    }
    this.state.markFailed(
      o.host,
      phase,
      o.at,
      o.error ?? { type: 'Error', message: 'failed', nonRetryable: false },
    );
    return true;
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
    });
    if (cancelled !== undefined) throw cancelled;
    if (failed) throw new PhaseFailed(phase);
  }
}
