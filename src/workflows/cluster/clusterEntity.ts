import {
  CancellationScope,
  condition,
  continueAsNew,
  allHandlersFinished,
  isCancellation,
  log,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { DEPLOY_PHASE } from '../../shared/searchAttributes';
import { hostError } from '../common';
import { PhaseContext, PhaseFailed } from './context';
import type { DeployClusterInput, deployCluster } from './deployCluster';
import { renderDetails } from './details';
import { hostChangeProblems, phaseProblems, planProblems } from './inputChecks';
import type {
  RestartOutcome,
  RestartRequest,
  RetryOutcome,
  RunPhasesOutcome,
  RunPhasesRequest,
} from './messages';
import {
  OperationQueue,
  describeRestart,
  type Operation,
  type OperationOutcome,
  type OperationRequest,
} from './operations';
import { PHASE_RUNNERS, clusterEndpoints, cleanupAllHosts } from './phases';
import { restartServers, restartTargets } from './serverPhases';
import { ClusterState } from './state';
import type { ClusterStatus, DeployOptions } from './types';

/**
 * The cluster as a durable entity: its state table, the operations asked of it, and the loop that
 * runs phases. `deployCluster` creates one per run and routes the workflow's messages to its
 * methods; everything it carries to the next run is `state.data`.
 */
export class ClusterEntity {
  private readonly options: DeployOptions;
  private readonly state: ClusterState;
  /** Holds the Plan every phase reads; a runPhases request may replace it. */
  private readonly ctx: PhaseContext;
  private readonly operations: OperationQueue;
  /** Set by `retryFailed`, taken by the phase waiting for the operator. */
  private retryRequested = false;
  /** Restart step names must not repeat within the cluster's life, across continue-as-new too. */
  private restartRound: number;
  private lastDetails = '';
  private lastPhaseAttribute = '';

  constructor({ plan, options, carried }: DeployClusterInput) {
    this.options = options;
    this.state = carried
      ? new ClusterState(carried)
      : ClusterState.fresh(
          plan.cluster,
          plan.hosts.map((h) => h.name),
          options.phases,
          clusterEndpoints(plan),
        );
    this.ctx = new PhaseContext(plan, this.state, options, () => this.publish());
    this.operations = new OperationQueue(this.state.status);
    this.restartRound = this.state.status.generation * 1000;
  }

  private get plan(): Plan {
    return this.ctx.plan;
  }

  get status(): ClusterStatus {
    return this.state.status;
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
    this.retryRequested = true;
    // The phase runner takes the request, re-runs the failed hosts, then either moves on
    // (another phase, ready, cleaned) or waits for the operator again.
    await condition(() => !this.retryRequested);
    const busy = (stage: string) => stage === 'deploying' || stage === 'cleaning';
    await condition(() => !busy(this.state.status.stage) || this.state.status.currentPhase !== phase);
    const failures = this.state.failuresOf(phase);
    return { phase, ok: failures.length === 0, failures };
  }

  validateRunPhases({ phases, plan: newPlan }: RunPhasesRequest): void {
    const problems = [...phaseProblems(phases, 'phases'), ...(newPlan ? planProblems(newPlan) : [])];
    if (problems.length > 0) throw new Error(problems.join('; '));
    if (phases.length === 0) throw new Error('no phases selected');
    this.refuseUnlessServing();
    const changed = newPlan ? hostChangeProblems(this.plan, newPlan) : [];
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

  private async enqueue(request: OperationRequest, what: string): Promise<OperationOutcome> {
    const op = this.operations.add(request, what);
    this.publish();
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

  /**
   * Run the selected phases, then serve operations until cancelled. Cancellation at any moment
   * cleans every host up in a non-cancellable scope before the run ends as cancelled.
   */
  async run(): Promise<void> {
    try {
      this.publish();
      await this.runPending();
      while (this.state.status.stage !== 'cleaned') {
        await condition(() => this.operations.hasWork || this.shouldContinueAsNew());
        const op = this.operations.start();
        if (!op) {
          await this.carryOn();
          continue;
        }
        this.operations.finish(await this.runOperation(op));
        this.publish();
      }
      await condition(allHandlersFinished);
    } catch (err) {
      if (isCancellation(err)) await this.cleanUpAfterCancel();
      throw err;
    }
  }

  private async runPending(): Promise<void> {
    for (let phase = this.state.takeNextPhase(); phase; phase = this.state.takeNextPhase()) {
      if (phase === 'clean_up') {
        await this.cleanUpOrWait();
        this.state.setStage('cleaned');
        this.publish();
        return;
      }
      await this.runPhase(phase);
      // Not in the middle of an operation: its update waits for an answer from this run.
      if (!this.operations.hasWork && this.shouldContinueAsNew()) await this.carryOn();
    }
    this.state.setStage('ready');
    this.publish();
  }

  /**
   * The clean_up phase (`--tags clean_up`): like any phase, hosts where it fails wait for the
   * operator (`deploy retry` runs it again on every host; cleanup is idempotent). Its failure
   * used to escape as an error and fail the workflow task over and over.
   */
  private async cleanUpOrWait(): Promise<void> {
    for (;;) {
      try {
        await cleanupAllHosts(this.ctx);
        return;
      } catch (err) {
        if (!(err instanceof PhaseFailed)) throw err;
        this.state.setFailures(this.state.failuresOf('clean_up'));
        this.state.setStage('waiting-for-operator', 'clean_up');
        this.publish();
        this.operations.answerRunningEarly({ ok: false, failures: this.state.status.failures });
        await condition(() => this.retryRequested);
        this.retryRequested = false;
        this.state.setFailures([]);
        this.state.setStage('cleaning', 'clean_up');
        this.publish();
      }
    }
  }

  /** Run one phase to success, waiting for `retryFailed` after each failed attempt. */
  private async runPhase(phase: Phase, runner = PHASE_RUNNERS[phase]): Promise<void> {
    this.state.setStage('deploying', phase);
    this.state.setFailures([]);
    this.publish();
    for (;;) {
      try {
        await runner(this.ctx);
        this.state.finishPhase(phase, this.state.status.hosts, Date.now());
        this.publish();
        return;
      } catch (err) {
        if (!(err instanceof PhaseFailed)) throw err;
        this.state.setFailures(this.state.failuresOf(err.phase));
        this.state.setStage('waiting-for-operator', err.phase);
        this.publish();
        this.operations.answerRunningEarly({ ok: false, failures: this.state.status.failures });
        await condition(() => this.retryRequested);
        this.retryRequested = false;
        this.state.setFailures([]);
        this.state.setStage('deploying', phase);
        this.publish();
      }
    }
  }

  private async runOperation(op: Operation): Promise<OperationOutcome> {
    if (op.kind === 'phases') {
      if (op.plan) {
        this.ctx.plan = op.plan;
        this.state.status.endpoints = clusterEndpoints(op.plan);
      }
      for (const phase of op.phases) this.state.resetPhase(phase);
      this.state.addPhases(op.phases);
      await this.runPending();
      const failures = op.phases.flatMap((p) => this.state.failuresOf(p));
      return { ok: failures.length === 0, failures };
    }
    const round = ++this.restartRound;
    const hosts = restartTargets(this.plan, op.request);
    for (const h of hosts) this.state.markRunning(h, 'run_server', Date.now());
    await this.runPhase('run_server', (c) => restartServers(c, op.request, round));
    this.state.setStage('ready');
    this.publish();
    const failures = this.state.failuresOf('run_server');
    return { ok: failures.length === 0, failures };
  }

  private async cleanUpAfterCancel(): Promise<void> {
    await CancellationScope.nonCancellable(async () => {
      this.state.setStage('cleaning', 'clean_up');
      this.publish();
      await cleanupAllHosts(this.ctx).catch((err: unknown) => this.reportCleanupFailure(err));
      this.state.setStage('cleaned');
      this.publish();
    });
  }

  /**
   * A cancelled run has no operator waiting to retry, and it must still end cancelled: what its
   * cleanup could not do is logged and kept in the status (failures and cells), so `deploy down`,
   * `deploy status` and the Web UI name the hosts that may still run engines or hold files.
   */
  private reportCleanupFailure(err: unknown): void {
    const now = Date.now();
    if (!(err instanceof PhaseFailed)) {
      // Not a host's step failing (that one is in its cell): a host whose step did not finish
      // is not known to be clean.
      for (const host of this.state.status.hosts) {
        if (!this.state.isDone('clean_up', host))
          this.state.markFailed(host, 'clean_up', now, hostError(err));
      }
    }
    this.state.finishPhase('clean_up', this.state.status.hosts, now);
    const failures = this.state.failuresOf('clean_up');
    this.state.setFailures(failures);
    log.error(
      `cleanup after cancellation failed on ${failures.map((f) => f.host).join(', ')}: ` +
        failures.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; '),
      { cluster: this.plan.cluster, failures },
    );
  }

  private shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= this.options.maxHistoryEvents;
  }

  private async carryOn(): Promise<never> {
    await condition(allHandlersFinished);
    this.state.status.generation += 1;
    return continueAsNew<typeof deployCluster>({
      plan: this.plan,
      options: this.options,
      carried: this.state.data,
    });
  }

  /** The Web UI's view of the state: current details, and the phase as a search attribute. */
  private publish(): void {
    const details = renderDetails(this.state.status);
    if (details !== this.lastDetails) {
      setCurrentDetails(details);
      this.lastDetails = details;
    }
    const phaseAttribute = this.state.status.currentPhase ?? this.state.status.stage;
    if (phaseAttribute !== this.lastPhaseAttribute) {
      upsertSearchAttributes([{ key: DEPLOY_PHASE, value: phaseAttribute }]);
      this.lastPhaseAttribute = phaseAttribute;
    }
  }
}
