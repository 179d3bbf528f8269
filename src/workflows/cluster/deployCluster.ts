import {
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
import type { DeployOptions, HostFailure } from './types';

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
type Operation = (
  { kind: 'phases'; phases: Phase[]; plan?: Plan } | { kind: 'restart'; request: RestartRequest }
) & {
  outcome?: OperationOutcome;
};

/**
 * The cluster as a durable entity (workflow ID `cluster/<name>`): runs the selected phases, then
 * stays up to serve operations until cancelled. Cancellation at any moment cleans every host up
 * in a non-cancellable scope before the run ends as cancelled.
 */
export async function deployCluster(input: DeployClusterInput): Promise<void> {
  const { options } = input;
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
  const enqueue = async (op: Operation): Promise<OperationOutcome> => {
    operations.push(op);
    await condition(() => op.outcome !== undefined);
    return op.outcome!;
  };
  const refuseWhenCleaned = () => {
    if (state.status.stage === 'cleaned') throw new Error('the cluster has been cleaned up');
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
      ...(await enqueue({ kind: 'phases', phases, plan: newPlan })),
    }),
    {
      validator: ({ phases, plan: newPlan }) => {
        if (phases.length === 0) throw new Error('no phases selected');
        refuseWhenCleaned();
        if (newPlan) assertSameHosts(plan, newPlan);
      },
    },
  );
  const validateRestart = (request: RestartRequest) => {
    refuseWhenCleaned();
    if (restartTargets(plan, request).length === 0) {
      throw new Error(`no engine host matches ${JSON.stringify(request)}`);
    }
  };
  setHandler(restartServersSignal, (request) => {
    // A signal cannot be refused; one that names nothing is dropped rather than queued.
    if (state.status.stage !== 'cleaned' && restartTargets(plan, request).length > 0) {
      void enqueue({ kind: 'restart', request });
    }
  });
  setHandler(
    restartServersUpdate,
    async (request) => ({
      hosts: restartTargets(plan, request),
      ...(await enqueue({ kind: 'restart', request })),
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
        // An operation started by an update answers now rather than when the operator acts.
        const op = operations[0];
        if (op && !op.outcome) op.outcome = { ok: false, failures: state.status.failures };
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
      const outcome = await runOperation(op);
      op.outcome ??= outcome;
      operations.shift();
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
