import {
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  allHandlersFinished,
  isCancellation,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import { DEPLOY_PHASE } from '../../shared/searchAttributes';
import { PhaseContext, PhaseFailed } from './context';
import { renderDetails } from './details';
import {
  restartServersSignal,
  restartServersUpdate,
  retryFailedUpdate,
  runPhasesUpdate,
  statusQuery,
  type RestartRequest,
  type RetryOutcome,
} from './messages';
import { PHASE_RUNNERS, clusterEndpoints, cleanupAllHosts } from './phases';
import { restartServers, restartTargets } from './serverPhases';
import { ClusterState, type ClusterStateData } from './state';
import { deployInputProblems, phaseProblems, planProblems } from './inputChecks';
import type { DeployOptions, HostFailure, OperationInfo } from './types';

export interface DeployClusterInput {
  /** The single source of truth: what history records as deployed. */
  plan: Plan;
  options: DeployOptions;
  /** Set by continue-as-new: the previous run's state. */
  carried?: ClusterStateData;
}

interface OperationOutcome {
  ok: boolean;
  failures: HostFailure[];
}

/** Work asked for while the cluster runs, done one at a time in arrival order. */
type OperationRequest =
  { kind: 'phases'; phases: Phase[]; plan?: Plan } | { kind: 'restart'; request: RestartRequest };
type Operation = OperationRequest & {
  info: OperationInfo;
  outcome?: OperationOutcome;
};

function describeRestart(r: RestartRequest): string {
  const who = [...(r.roles ?? []), ...(r.hosts ?? [])].join(', ') || 'all engines';
  return `restart ${who}${r.syncCode ? ' (code sync first)' : ''}`;
}

/**
 * The cluster as a durable entity (workflow ID `cluster/<name>`): runs the selected phases, then
 * stays up to serve operations until cancelled. Cancellation at any moment cleans every host up
 * in a non-cancellable scope before the run ends as cancelled.
 */
export async function deployCluster(input: DeployClusterInput): Promise<void> {
  const { options } = input;
  const problems = deployInputProblems(input.plan, options);
  if (problems.length > 0) {
    // Fails the run (not just the task): no retry can make this input valid.
    throw ApplicationFailure.nonRetryable(
      `invalid deployCluster input: ${problems.join('; ')}`,
      'InvalidInput',
    );
  }
  let plan = input.plan;
  const state = input.carried
    ? new ClusterState(input.carried)
    : ClusterState.fresh(
        plan.cluster,
        plan.hosts.map((h) => h.name),
        options.phases,
        clusterEndpoints(plan),
      );
  let lastDetails = '';
  let lastPhaseAttribute = '';
  const publish = () => {
    const details = renderDetails(state.status);
    if (details !== lastDetails) {
      setCurrentDetails(details);
      lastDetails = details;
    }
    const phaseAttribute = state.status.currentPhase ?? state.status.stage;
    if (phaseAttribute !== lastPhaseAttribute) {
      upsertSearchAttributes([{ key: DEPLOY_PHASE, value: phaseAttribute }]);
      lastPhaseAttribute = phaseAttribute;
    }
  };
  const ctx = new PhaseContext(plan, state, options, publish);

  let retryRequested = false;
  const operations: Operation[] = [];
  /** The operation being carried out (operations[0] while it runs); only it may be answered. */
  let running: Operation | undefined;
  const showOperations = () => {
    state.status.operation = running?.info;
    state.status.queued = operations.filter((o) => o !== running).map((o) => o.info);
  };
  const enqueue = async (op: OperationRequest, what: string): Promise<OperationOutcome> => {
    const queued: Operation = { ...op, info: { kind: op.kind, what, requestedAt: Date.now() } };
    operations.push(queued);
    showOperations();
    publish();
    await condition(() => queued.outcome !== undefined);
    return queued.outcome!;
  };
  /** Operations refuse rather than queue behind something that needs the operator first. */
  const refuseUnlessServing = () => {
    const { stage, currentPhase, failures } = state.status;
    if (stage === 'cleaned' || stage === 'cleaning') throw new Error(`the cluster is ${stage} up`);
    if (stage === 'waiting-for-operator') {
      const hosts = [...new Set(failures.map((f) => f.host))].join(', ');
      throw new Error(
        `the cluster waits for the operator: ${currentPhase} failed on ${hosts}; ` +
          '`deploy retry` after fixing the cause, or `deploy down`',
      );
    }
  };

  setHandler(statusQuery, () => state.status);
  setHandler(
    retryFailedUpdate,
    async (): Promise<RetryOutcome> => {
      const phase = state.status.currentPhase!;
      retryRequested = true;
      // The phase runner takes the request, re-runs the failed hosts, then either moves on
      // (another phase, ready, cleaned) or waits for the operator again.
      await condition(() => !retryRequested);
      await condition(() => state.status.stage !== 'deploying' || state.status.currentPhase !== phase);
      const failures = state.failuresOf(phase);
      return { phase, ok: failures.length === 0, failures };
    },
    {
      validator: () => {
        if (state.status.stage !== 'waiting-for-operator') {
          throw new Error(`nothing to retry: the cluster is ${state.status.stage}`);
        }
      },
    },
  );
  setHandler(
    runPhasesUpdate,
    async ({ phases, plan: newPlan }) => ({
      phases,
      ...(await enqueue({ kind: 'phases', phases, plan: newPlan }, phases.join(' → '))),
    }),
    {
      validator: ({ phases, plan: newPlan }) => {
        const problems = [...phaseProblems(phases, 'phases'), ...(newPlan ? planProblems(newPlan) : [])];
        if (problems.length > 0) throw new Error(problems.join('; '));
        if (phases.length === 0) throw new Error('no phases selected');
        refuseUnlessServing();
        if (newPlan) assertSameHosts(plan, newPlan);
      },
    },
  );
  const validateRestart = (request: RestartRequest) => {
    refuseUnlessServing();
    if (restartTargets(plan, request).length === 0) {
      throw new Error(`no engine host matches ${JSON.stringify(request)}`);
    }
  };
  setHandler(restartServersSignal, (request) => {
    // A signal cannot be refused; one that names nothing is dropped rather than queued.
    if (state.status.stage !== 'cleaned' && restartTargets(plan, request).length > 0) {
      void enqueue({ kind: 'restart', request }, describeRestart(request));
    }
  });
  setHandler(
    restartServersUpdate,
    async (request) => ({
      hosts: restartTargets(plan, request),
      ...(await enqueue({ kind: 'restart', request }, describeRestart(request))),
    }),
    { validator: validateRestart },
  );

  /** Run one phase to success, waiting for `retryFailed` after each failed attempt. */
  async function runPhase(phase: Phase, runner = PHASE_RUNNERS[phase]): Promise<void> {
    state.setStage('deploying', phase);
    state.setFailures([]);
    publish();
    for (;;) {
      try {
        await runner(ctx);
        state.finishPhase(phase, state.status.hosts, Date.now());
        publish();
        return;
      } catch (err) {
        if (!(err instanceof PhaseFailed)) throw err;
        state.setFailures(state.failuresOf(err.phase));
        state.setStage('waiting-for-operator', err.phase);
        publish();
        // The operation that ran into this answers now rather than when the operator acts. Only
        // that one: an operation still queued has not run, and answering it would let its
        // caller believe it failed while it runs later.
        if (running && !running.outcome) running.outcome = { ok: false, failures: state.status.failures };
        await condition(() => retryRequested);
        retryRequested = false;
        state.setFailures([]);
        state.setStage('deploying', phase);
        publish();
      }
    }
  }

  async function runPending(): Promise<void> {
    for (let phase = state.takeNextPhase(); phase; phase = state.takeNextPhase()) {
      if (phase === 'clean_up') {
        await cleanupAllHosts(ctx);
        state.setStage('cleaned');
        publish();
        return;
      }
      await runPhase(phase);
      // Not in the middle of an operation: its update waits for an answer from this run.
      if (operations.length === 0 && shouldContinueAsNew()) await carryOn();
    }
    state.setStage('ready');
    publish();
  }

  let restartRound = state.status.generation * 1000;
  async function runOperation(op: Operation): Promise<OperationOutcome> {
    if (op.kind === 'phases') {
      if (op.plan) {
        plan = op.plan;
        ctx.plan = plan;
        state.status.endpoints = clusterEndpoints(plan);
      }
      for (const phase of op.phases) state.resetPhase(phase);
      state.addPhases(op.phases);
      await runPending();
      const failures = op.phases.flatMap((p) => state.failuresOf(p));
      return { ok: failures.length === 0, failures };
    }
    const round = ++restartRound;
    const hosts = restartTargets(plan, op.request);
    for (const h of hosts) state.markRunning(h, 'run_server', Date.now());
    await runPhase('run_server', (c) => restartServers(c, op.request, round));
    state.setStage('ready');
    publish();
    const failures = state.failuresOf('run_server');
    return { ok: failures.length === 0, failures };
  }

  function shouldContinueAsNew(): boolean {
    const info = workflowInfo();
    return info.continueAsNewSuggested || info.historyLength >= options.maxHistoryEvents;
  }

  async function carryOn(): Promise<never> {
    await condition(allHandlersFinished);
    state.status.generation += 1;
    return continueAsNew<typeof deployCluster>({ plan, options, carried: state.data });
  }

  try {
    publish();
    await runPending();
    while (state.status.stage !== 'cleaned') {
      await condition(() => operations.length > 0 || shouldContinueAsNew());
      const op = operations[0];
      if (!op) {
        await carryOn();
        continue;
      }
      running = op;
      showOperations();
      const outcome = await runOperation(op);
      op.outcome ??= outcome;
      operations.shift();
      running = undefined;
      showOperations();
      publish();
    }
    await condition(allHandlersFinished);
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        state.setStage('cleaning', 'clean_up');
        publish();
        await cleanupAllHosts(ctx).catch(() => undefined);
        state.setStage('cleaned');
        publish();
      });
    }
    throw err;
  }
}

/**
 * A new Plan may change anything about the hosts but which hosts there are: the state table, the
 * cleanup and every host's history are keyed by them.
 */
function assertSameHosts(current: Plan, next: Plan): void {
  if (next.cluster !== current.cluster) {
    throw new Error(`the plan is for cluster ${next.cluster}, this workflow runs ${current.cluster}`);
  }
  const names = (p: Plan) => p.hosts.map((h) => h.name);
  const [was, now] = [names(current), names(next)];
  if ([...was].sort().join() !== [...now].sort().join()) {
    const added = now.filter((h) => !was.includes(h));
    const removed = was.filter((h) => !now.includes(h));
    throw new Error(
      `the inventory's hosts changed (added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'}); ` +
        'run `deploy down` and start again',
    );
  }
}
