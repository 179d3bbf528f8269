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
  retryFailedUpdate,
  runPhasesUpdate,
  statusQuery,
  type RetryOutcome,
  type RunPhasesOutcome,
} from './messages';
import { PHASE_RUNNERS, clusterEndpoints, cleanupAllHosts } from './phases';
import { ClusterState, type ClusterStateData } from './state';
import type { DeployOptions } from './types';

export interface DeployClusterInput {
  /** The single source of truth: what history records as deployed. */
  plan: Plan;
  options: DeployOptions;
  /** Set by continue-as-new: the previous run's state. */
  carried?: ClusterStateData;
}

interface Operation {
  phases: Phase[];
  outcome?: RunPhasesOutcome;
}

/**
 * The cluster as a durable entity (workflow ID `cluster/<name>`): runs the selected phases, then
 * stays up to serve operations until cancelled. Cancellation at any moment cleans every host up
 * in a non-cancellable scope before the run ends as cancelled.
 */
export async function deployCluster(input: DeployClusterInput): Promise<void> {
  const { plan, options } = input;
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
    async ({ phases }): Promise<RunPhasesOutcome> => {
      const op: Operation = { phases };
      operations.push(op);
      await condition(() => op.outcome !== undefined);
      return op.outcome!;
    },
    {
      validator: ({ phases }) => {
        if (phases.length === 0) throw new Error('no phases selected');
        if (state.status.stage === 'cleaned') throw new Error('the cluster has been cleaned up');
      },
    },
  );

  /** Run one phase to success, waiting for `retryFailed` after each failed attempt. */
  async function runPhase(phase: Phase): Promise<void> {
    state.setStage('deploying', phase);
    state.setFailures([]);
    publish();
    for (;;) {
      try {
        await PHASE_RUNNERS[phase](ctx);
        const targets = state.status.hosts;
        state.finishPhase(phase, targets, Date.now());
        publish();
        return;
      } catch (err) {
        if (!(err instanceof PhaseFailed)) throw err;
        state.setFailures(state.failuresOf(phase));
        state.setStage('waiting-for-operator', phase);
        publish();
        // An operation started by an update answers now rather than when the operator acts.
        const op = operations[0];
        if (op && !op.outcome) op.outcome = { phases: op.phases, ok: false, failures: state.status.failures };
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
      if (shouldContinueAsNew()) await carryOn();
    }
    state.setStage('ready');
    publish();
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
      for (const phase of op.phases) state.resetPhase(phase);
      state.addPhases(op.phases);
      await runPending();
      const failures = op.phases.flatMap((p) => state.failuresOf(p));
      op.outcome ??= { phases: op.phases, ok: failures.length === 0, failures };
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
