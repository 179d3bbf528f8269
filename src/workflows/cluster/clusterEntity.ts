import {
  CancellationScope,
  condition,
  continueAsNew,
  allHandlersFinished,
  isCancellation,
  log,
  sleep,
  setCurrentDetails,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { WatchHealthResult } from '../../activities/types';
import type { HostObservation } from '../../shared/observation';
import { expandPlan } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { DEPLOY_HEALTH, DEPLOY_PHASE } from '../../shared/searchAttributes';
import { hostError } from '../common';
import { PhaseContext, PhaseFailed } from './context';
import type { HostStepsProgress } from './hostSteps';
import type { DeployClusterInput, deployCluster } from './deployCluster';
import { renderDetails } from './details';
import { expandedPlan, hostChangeProblems, phaseProblems, planProblems } from './inputChecks';
import { diffPlans } from './diff';
import { rollOut } from './rollout';
import type {
  RolloutOutcome,
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
import { assessHealth, clusterUnits, unitsToHeal, type ClusterHealth, type UnitHealth } from './health';
import { drainedUpstreams, followProxy, repairUnit, watchEnabled, watchHealth } from './healing';
import { recordHealthMetrics, recordRepair } from './metrics';
import { PHASE_RUNNERS, clusterEndpoints, cleanupAllHosts } from './phases';
import { restartServers, restartTargets } from './serverPhases';
import { ClusterState } from './state';
import type { ClusterEvent, ClusterStatus, DeployOptions, HealthOptions, Stage } from './types';

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
  /** Set by `deploy rollback` while a rollout waits for the operator: revert it instead. */
  private abandonRequested = false;
  /** The answer for that rollback, once the revert finished. */
  private reverted: RolloutOutcome | undefined;
  /** Restart step names must not repeat within the cluster's life, across continue-as-new too. */
  private restartRound: number;
  private lastDetails = '';
  private lastPhaseAttribute = '';
  private lastHealthAttribute = '';
  /** The running health watch, cancelled when an operation arrives or the run continues as new. */
  private watchScope: CancellationScope | undefined;
  private watchSeq = 0;
  private carrying = false;
  /** What the last watch saw (not carried: the first watch of a run reports at once). */
  private observations: HostObservation[] = [];
  private knownSignature = '';
  private healRound: number;

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
    this.ctx = new PhaseContext(plan, this.state, options, () => this.publish(), planInput);
    this.operations = new OperationQueue(this.state.status);
    this.restartRound = this.state.status.generation * 1000;
    this.healRound = this.state.status.generation * 1000;
    this.state.status.healing ??= options.health?.heal === false ? 'off' : 'on';
  }

  /** The Plan in force (a rollout replaces it). */
  get plan(): Plan {
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
    return {
      ok: outcome.ok,
      failures: outcome.failures,
      changed: outcome.changed ?? true,
      ...(outcome.decodeOutageMs !== undefined && { decodeOutageMs: outcome.decodeOutageMs }),
    };
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
    if (this.rolloutWaiting()) {
      this.abandonRequested = true;
      await condition(() => this.reverted !== undefined);
      const done = this.reverted!;
      this.reverted = undefined;
      return done;
    }
    const outcome = await this.enqueue(
      { kind: 'rollout', plan: this.state.data.previousPlan!, rollback: true },
      'rollback to the previous plan',
    );
    return {
      ok: outcome.ok,
      failures: outcome.failures,
      changed: outcome.changed ?? true,
      ...(outcome.decodeOutageMs !== undefined && { decodeOutageMs: outcome.decodeOutageMs }),
    };
  }

  get events(): readonly ClusterEvent[] {
    return this.state.events;
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
      this.state.status.healing = healing;
      this.event({ kind: 'healing', message: `self-healing turned ${healing} by the operator` });
      if (enabled && this.state.status.health) this.queueRepairs(this.state.status.health);
      if (!enabled) this.operations.dropQueuedRepairs();
      this.publish();
    }
    return { healing };
  }

  private async enqueue(request: OperationRequest, what: string): Promise<OperationOutcome> {
    const op = this.operations.add(request, what);
    // The watch steps aside while the operator's work runs (it would see the work as failures).
    this.watchScope?.cancel();
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
      const health = this.options.health;
      if (watchEnabled(health)) {
        void this.watchLoop(health).catch((err: unknown) => {
          if (!isCancellation(err)) log.error(`health watch stopped: ${String(err)}`);
        });
      }
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
  private async runPhase(
    phase: Phase,
    runner = PHASE_RUNNERS[phase],
    stage: Extract<Stage, 'deploying' | 'healing' | 'rolling-out'> = 'deploying',
  ): Promise<void> {
    this.state.setStage(stage, phase);
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
        await condition(() => this.retryRequested || this.abandonRequested);
        if (this.abandonRequested) {
          this.abandonRequested = false;
          this.state.setFailures([]);
          throw new RolloutAbandoned();
        }
        this.retryRequested = false;
        this.state.setFailures([]);
        this.state.setStage(stage, phase);
        this.publish();
      }
    }
  }

  private async runOperation(op: Operation): Promise<OperationOutcome> {
    if (op.kind === 'phases') {
      if (op.plan) {
        this.ctx.setPlanInput(op.plan, expandPlan(op.plan));
        this.state.status.endpoints = clusterEndpoints(this.ctx.plan);
      }
      for (const phase of op.phases) this.state.resetPhase(phase);
      this.state.addPhases(op.phases);
      await this.runPending();
      const failures = op.phases.flatMap((p) => this.state.failuresOf(p));
      return { ok: failures.length === 0, failures };
    }
    if (op.kind === 'heal') return this.repair(op.unit);
    if (op.kind === 'rollout') return this.applyPlanNow(op.plan, op.rollback);
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
    this.carrying = true;
    this.watchScope?.cancel();
    await condition(() => this.watchScope === undefined);
    await condition(allHandlersFinished);
    this.state.status.generation += 1;
    return continueAsNew<typeof deployCluster>({
      plan: this.ctx.planInput,
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
    // Lets the Web UI list degraded or down clusters (`DeployHealth = "down"`). Set only once a
    // watch has judged the cluster, so runs without one never touch it.
    const healthAttribute = this.state.status.health?.state;
    if (healthAttribute !== undefined && healthAttribute !== this.lastHealthAttribute) {
      upsertSearchAttributes([{ key: DEPLOY_HEALTH, value: healthAttribute }]);
      this.lastHealthAttribute = healthAttribute;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // health watch and self-healing

  private event(e: Omit<ClusterEvent, 'at'>, at = Date.now()): void {
    this.state.addEvent({ at, ...e });
  }

  /** The watch runs while the cluster is ready and nothing else is going on. */
  private watchable(): boolean {
    const { stage } = this.state.status;
    return stage === 'cleaned' || (stage === 'ready' && !this.operations.hasWork && !this.carrying);
  }

  private async watchLoop(health: HealthOptions): Promise<void> {
    for (;;) {
      await condition(() => this.watchable());
      if (this.state.status.stage === 'cleaned') return;
      const scope = new CancellationScope();
      this.watchScope = scope;
      let result: WatchHealthResult | undefined;
      try {
        result = await scope.run(() =>
          watchHealth(
            this.plan,
            health,
            this.knownSignature,
            this.options.activity.heartbeatTimeout,
            ++this.watchSeq,
          ),
        );
      } catch (err) {
        // Cancelled to make way for an operation or a continue-as-new: start again when idle.
        if (!isCancellation(err)) {
          log.warn(`health watch failed: ${String(err)}`);
          await sleep(health.intervalMs);
        }
      } finally {
        this.watchScope = undefined;
      }
      if (result) this.observe(result, health);
    }
  }

  /** Judge what the watch saw, tell the operator what changed, and queue repairs. */
  private observe(result: WatchHealthResult, health: HealthOptions): void {
    this.knownSignature = result.signature;
    this.observations = result.observations;
    const before = this.state.status.health;
    const after = assessHealth(this.plan, result.observations, before, result.observedAt);
    this.state.status.health = after;
    for (const unit of after.units) {
      const was = before?.units.find((u) => u.unit === unit.unit)?.state;
      if (was === unit.state || (was === undefined && unit.state === 'serving')) continue;
      this.event(
        {
          kind: 'health',
          unit: unit.unit,
          message: `${unit.unit} ${unit.state}${unit.cause ? `: ${unit.cause}` : ''}`,
        },
        result.observedAt,
      );
    }
    if (before && before.state !== after.state) {
      this.event(
        { kind: 'health', message: `cluster ${after.state}${after.cause ? `: ${after.cause}` : ''}` },
        result.observedAt,
      );
    }
    recordHealthMetrics(this.plan.cluster, after);
    if (health.heal && this.state.status.healing === 'on') this.queueRepairs(after);
    this.publish();
  }

  private queueRepairs(health: ClusterHealth): void {
    for (const unit of unitsToHeal(health)) {
      if (!this.operations.hasRepair(unit.unit)) {
        this.operations.add({ kind: 'heal', unit: unit.unit }, repairTitle(unit));
      }
    }
  }

  /** Upstreams to drain, with `healed` counted as serving again. */
  private drained(healed?: string): string[] {
    const health = this.state.status.health;
    const units = health?.units.filter((u) => u.unit !== healed);
    return drainedUpstreams(this.plan, health && units ? { ...health, units } : undefined, this.observations);
  }

  /**
   * Apply a Plan to the running cluster unit by unit (src/workflows/cluster/rollout.ts). The
   * table gets rows for new hosts at once and loses removed ones once they are cleaned; the Plan
   * in force before becomes the one `deploy rollback` returns to.
   */
  private async applyPlanNow(next: Plan, rollback: boolean): Promise<OperationOutcome> {
    const current = this.plan;
    const diff = diffPlans(current, next);
    const verb = rollback ? 'rollback' : 'rollout';
    if (!diff.changed) {
      this.ctx.plan = next;
      return { ok: true, failures: [], changed: false };
    }
    const round = ++this.restartRound;
    const units = diff.units.filter((u) => u.change !== 'none').map((u) => `${u.unit} ${u.change}`);
    this.event({ kind: 'rollout', message: `${verb} started: ${units.join(', ')}` });
    this.state.setHosts([...new Set([...current.hosts, ...next.hosts].map((h) => h.name))]);
    this.ctx.plan = next;
    this.state.status.endpoints = clusterEndpoints(next);
    const title = `${verb} (${units.join(', ')})`;
    let decodeOutageMs: number | undefined;
    try {
      await this.runPhase(
        'run_server',
        async (ctx) => {
          const report = await rollOut(ctx, current, diff, round, (what) => {
            this.operations.describeRunning(`${title}: ${what}`);
            this.publish();
          });
          decodeOutageMs = report.decodeOutageMs;
        },
        'rolling-out',
      );
    } catch (err) {
      if (!(err instanceof RolloutAbandoned)) throw err;
      // `deploy rollback` while this rollout waited: back to the Plan it started from, by the
      // same kind of rollout (units not reached yet are already there and only restart).
      this.event({
        kind: 'rollout',
        result: 'failed',
        message: `${verb} abandoned by the operator; rolling back`,
      });
      const back = await this.applyPlanNow(current, true);
      this.reverted = {
        ok: back.ok,
        changed: true,
        failures: back.failures,
        ...(back.decodeOutageMs !== undefined && { decodeOutageMs: back.decodeOutageMs }),
      };
      return back;
    }
    this.state.setHosts(next.hosts.map((h) => h.name));
    this.state.data.previousPlan = current;
    const outage =
      decodeOutageMs === undefined ? '' : `; decode outage ${(decodeOutageMs / 1000).toFixed(1)} s`;
    this.event({ kind: 'rollout', result: 'ok', message: `${verb} done${outage}` });
    this.state.setStage('ready');
    this.publish();
    return { ok: true, failures: [], changed: true, ...(decodeOutageMs !== undefined && { decodeOutageMs }) };
  }

  /**
   * Repair one unit that stopped serving (a heal operation): drain it from the proxy, rebuild it
   * as the deploy did, put it back. Attempts are bounded with backoff; when they run out the
   * cluster waits for the operator with the cause (`deploy retry` repairs the unit again).
   */
  private async repair(unitName: string): Promise<OperationOutcome> {
    const health = this.options.health!;
    const unit = clusterUnits(this.plan).find((u) => u.unit === unitName);
    const seen = this.state.status.health?.units.find((u) => u.unit === unitName);
    if (!unit || !seen || seen.state === 'serving') return { ok: true, failures: [] };
    const round = ++this.healRound;
    const phase: Phase = unit.kind === 'proxy' ? 'run_proxy' : 'run_server';
    this.event({
      kind: 'heal',
      unit: unitName,
      result: 'started',
      message: `repairing ${unitName}: ${seen.cause ?? seen.state}`,
    });
    recordRepair(this.plan.cluster, unitName, 'started');
    for (const h of unit.hosts) this.state.markRunning(h, phase, Date.now());
    if (unit.kind !== 'proxy') await followProxy(this.ctx, `heal.${round}.drain`, this.drained(), true);
    const title = repairTitle(seen);
    const attempts = (ctx: PhaseContext) =>
      repairUnit(
        ctx,
        unit,
        round,
        health,
        () => this.drained(unitName),
        (attempt, waitMs) => {
          const failures = this.state.failuresOf(phase).filter((f) => unit.hosts.includes(f.host));
          const why = failures.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; ');
          this.event({
            kind: 'heal',
            unit: unitName,
            result: 'failed',
            message: `attempt ${attempt} of ${health.healAttempts} failed (${why}); next in ${Math.round(waitMs / 1000)} s`,
          });
          recordRepair(this.plan.cluster, unitName, 'failed');
          this.operations.describeRunning(
            `${title} (attempt ${attempt + 1} of ${health.healAttempts} in ${Math.round(waitMs / 1000)} s)`,
          );
          this.publish();
        },
      ).catch((err: unknown) => {
        if (err instanceof PhaseFailed) {
          // Out of attempts: the cluster now waits for the operator (`deploy retry`).
          this.event({
            kind: 'heal',
            unit: unitName,
            result: 'exhausted',
            message: `repair of ${unitName} gave up after ${health.healAttempts} attempt(s); waiting for the operator`,
          });
          recordRepair(this.plan.cluster, unitName, 'exhausted');
        }
        throw err;
      });
    try {
      await this.runPhase(phase, attempts, 'healing');
    } finally {
      this.operations.describeRunning(title);
    }
    this.event({ kind: 'heal', unit: unitName, result: 'ok', message: `${unitName} repaired` });
    recordRepair(this.plan.cluster, unitName, 'ok');
    this.state.setStage('ready');
    this.publish();
    return { ok: true, failures: [] };
  }
}

function repairTitle(unit: UnitHealth): string {
  return `repair ${unit.unit} (${unit.state}${unit.cause ? `: ${unit.cause}` : ''})`;
}

/** A rollout waiting for the operator was told to roll back instead of retrying. */
class RolloutAbandoned extends Error {}
