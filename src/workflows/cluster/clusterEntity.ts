import { condition } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import { PhaseContext } from './context';
import type { HostStepsProgress } from './hostSteps';
import type { DeployClusterInput } from './deployCluster';
import { HealthWatch } from './healthWatch';
import { expandedPlan, hostChangeProblems, phaseProblems, planProblems } from './inputChecks';
import type {
  RolloutOutcome,
  RestartOutcome,
  RestartRequest,
  RetryOutcome,
  RunPhasesOutcome,
  RunPhasesRequest,
} from './messages';
import { OperationQueue, describeRestart, type OperationOutcome, type OperationRequest } from './operations';
import { OperatorWait } from './operatorWait';
import { clusterEndpoints } from './phases';
import { StatusPublisher } from './publisher';
import { queueRepairs } from './repairOperation';
import { restartTargets } from './serverPhases';
import { ClusterState } from './state';
import type { ClusterEvent, ClusterStatus, DeployOptions } from './types';

/**
 * The cluster as a durable entity: its state, the operations asked of it and the workflow's
 * message handlers. Handlers only record a request (or an answer to a waiting phase) and wait for
 * its outcome; the loop in `deployCluster` runs the work (OPERATION_RUNNERS). Everything carried
 * to the next run is `state.data`.
 */
export class ClusterEntity {
  readonly options: DeployOptions;
  readonly state: ClusterState;
  /** Holds the Plan every phase reads; a runPhases request or a rollout may replace it. */
  readonly ctx: PhaseContext;
  readonly operations: OperationQueue;
  readonly operator = new OperatorWait();
  readonly watch: HealthWatch;
  /** Restart and repair step names must not repeat within the cluster's life, across runs too. */
  readonly rounds: { restart: number; heal: number };
  /** Set while the run winds down to continue as new: the watch does not start again. */
  continuingAsNew = false;
  /** The workflow build this run moves to at its idle point (upgrade.ts). */
  upgradeTo: string | undefined;

  /** `plan` is `input.plan` expanded (src/plan/compact.ts). */
  constructor({ plan: planInput, options, carried }: DeployClusterInput, plan: Plan) {
    this.options = options;
    this.state = carried
      ? new ClusterState(carried)
      : ClusterState.fresh(
          plan.cluster,
          plan.hosts.map((h) => h.name),
          options.phases,
          clusterEndpoints(plan),
        );
    this.ctx = new PhaseContext(plan, this.state, options, planInput);
    this.operations = new OperationQueue(this.state);
    this.watch = new HealthWatch(this);
    this.rounds = { restart: this.state.status.generation * 1000, heal: this.state.status.generation * 1000 };
    if (this.state.status.healing === undefined) {
      this.state.setHealing(options.health?.heal === false ? 'off' : 'on');
    }
    const publisher = new StatusPublisher();
    this.state.onChange((status) => publisher.publish(status));
  }

  /** The Plan in force (a rollout replaces it). */
  get plan(): Plan {
    return this.ctx.plan;
  }

  get status(): Readonly<ClusterStatus> {
    return this.state.status;
  }

  get events(): readonly ClusterEvent[] {
    return this.state.events;
  }

  // The workflow's messages (wired in deployCluster). Validators refuse before anything is
  // recorded: a refused update leaves no trace in history, and its caller hears why at once.

  validateRetry(): void {
    if (this.state.status.stage !== 'waiting-for-operator') {
      throw new Error(`nothing to retry: the cluster is ${this.state.status.stage}`);
    }
  }

  async retryFailed(): Promise<RetryOutcome> {
    const phase = this.state.status.currentPhase!;
    // The phase runner takes the answer, re-runs the failed hosts, then either moves on
    // (another phase, ready, cleaned) or waits for the operator again.
    await this.operator.retry();
    const busy = (stage: string) => stage === 'deploying' || stage === 'cleaning';
    await condition(() => !busy(this.state.status.stage) || this.state.status.currentPhase !== phase);
    const failures = this.state.failuresOf(phase);
    return { phase, ok: failures.length === 0, failures };
  }

  validateRunPhases({ phases, plan: newPlan }: RunPhasesRequest): void {
    const expanded = newPlan ? expandedPlan(newPlan) : undefined;
    const problems = [
      ...phaseProblems(phases, 'phases'),
      ...(!expanded ? [] : 'problem' in expanded ? [expanded.problem] : planProblems(expanded.plan)),
    ];
    if (problems.length > 0) throw new Error(problems.join('; '));
    if (phases.length === 0) throw new Error('no phases selected');
    this.refuseUnlessServing();
    const changed = expanded && 'plan' in expanded ? hostChangeProblems(this.plan, expanded.plan) : [];
    if (changed.length > 0) throw new Error(changed.join('; '));
  }

  async runPhases({ phases, plan: newPlan }: RunPhasesRequest): Promise<RunPhasesOutcome> {
    return { phases, ...(await this.enqueue({ kind: 'phases', phases, plan: newPlan }, phases.join(' → '))) };
  }

  validateRestart(request: RestartRequest): void {
    this.refuseUnlessServing();
    if (restartTargets(this.plan, request).length === 0) {
      throw new Error(`no engine host matches ${JSON.stringify(request)}`);
    }
  }

  /** The signal form: it cannot be refused, so one that names nothing is dropped rather than queued. */
  requestRestart(request: RestartRequest): void {
    if (this.state.status.stage !== 'cleaned' && restartTargets(this.plan, request).length > 0) {
      void this.enqueue({ kind: 'restart', request }, describeRestart(request));
    }
  }

  async restart(request: RestartRequest): Promise<RestartOutcome> {
    return {
      hosts: restartTargets(this.plan, request),
      ...(await this.enqueue({ kind: 'restart', request }, describeRestart(request))),
    };
  }

  /** Progress of a step's hosts from its child workflows (hostStepsWorkflow). */
  applyHostStepsProgress(progress: HostStepsProgress): void {
    this.ctx.applyProgress(progress);
  }

  validateApplyPlan({ plan: next }: { plan: Plan }): void {
    const problems = planProblems(next);
    if (problems.length > 0) throw new Error(problems.join('; '));
    if (next.cluster !== this.plan.cluster) {
      throw new Error(`the plan is for cluster ${next.cluster}, this workflow runs ${this.plan.cluster}`);
    }
    this.refuseUnlessServing();
  }

  /** `deploy start -i FILE` on a running cluster: the edited inventory, applied as a rollout. */
  async applyPlan({ plan: next }: { plan: Plan }): Promise<RolloutOutcome> {
    const outcome = await this.enqueue(
      { kind: 'rollout', plan: next, rollback: false },
      'rollout of the edited inventory',
    );
    return rolloutOutcome(outcome);
  }

  validateRollback(): void {
    // A rollout that stopped on a failure is rolled back from where it stopped.
    if (this.rolloutWaiting()) return;
    this.refuseUnlessServing();
    if (!this.state.data.previousPlan)
      throw new Error('nothing to roll back to: no rollout has finished on this cluster');
  }

  private rolloutWaiting(): boolean {
    return this.state.status.stage === 'waiting-for-operator' && this.operations.runningKind === 'rollout';
  }

  async rollback(): Promise<RolloutOutcome> {
    if (this.rolloutWaiting()) return this.operator.abandon();
    const outcome = await this.enqueue(
      { kind: 'rollout', plan: this.state.data.previousPlan!, rollback: true },
      'rollback to the previous plan',
    );
    return rolloutOutcome(outcome);
  }

  validateSetHealing(_request: { enabled: boolean }): void {
    const { stage } = this.state.status;
    if (stage === 'cleaned' || stage === 'cleaning') throw new Error(`the cluster is ${stage} up`);
    if (!this.options.health || this.options.health.intervalMs <= 0) {
      throw new Error(
        'this cluster runs without a health watch (started by an older omni-deploy or with it off)',
      );
    }
  }

  /** `deploy heal on|off`: repairs stop being queued (those queued are dropped) or resume. */
  setHealing(enabled: boolean): { healing: 'on' | 'off' } {
    const healing = enabled ? 'on' : 'off';
    if (this.state.status.healing !== healing) {
      this.state.setHealing(healing);
      this.event({ kind: 'healing', message: `self-healing turned ${healing} by the operator` });
      if (enabled && this.state.status.health) queueRepairs(this, this.state.status.health);
      if (!enabled) this.operations.dropQueuedRepairs();
    }
    return { healing };
  }

  event(e: Omit<ClusterEvent, 'at'>, at = Date.now()): void {
    this.state.addEvent({ at, ...e });
  }

  private async enqueue(request: OperationRequest, what: string): Promise<OperationOutcome> {
    const op = this.operations.add(request, what);
    // The watch steps aside while the operator's work runs (it would see the work as failures).
    this.watch.stepAside();
    await condition(() => op.outcome !== undefined);
    return op.outcome!;
  }

  /** Operations refuse rather than queue behind something that needs the operator first. */
  private refuseUnlessServing(): void {
    const { stage, currentPhase, failures } = this.state.status;
    if (stage === 'cleaned' || stage === 'cleaning') throw new Error(`the cluster is ${stage} up`);
    if (stage === 'waiting-for-operator') {
      const hosts = [...new Set(failures.map((f) => f.host))].join(', ');
      throw new Error(
        `the cluster waits for the operator: ${currentPhase} failed on ${hosts}; ` +
          '`deploy retry` after fixing the cause, or `deploy down`',
      );
    }
  }
}

function rolloutOutcome(outcome: OperationOutcome): RolloutOutcome {
  return {
    ok: outcome.ok,
    failures: outcome.failures,
    changed: outcome.changed ?? true,
    ...(outcome.decodeOutageMs !== undefined && { decodeOutageMs: outcome.decodeOutageMs }),
  };
}
