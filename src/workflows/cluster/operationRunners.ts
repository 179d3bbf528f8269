import { expandPlan } from '../../plan/compact';
import type { ClusterEntity } from './clusterEntity';
import { continueAsNewNow, shouldContinueAsNew } from './nextRun';
import type { Operation, OperationOutcome } from './operations';
import { cleanUpOrWait, runPhase } from './phaseRunner';
import { clusterEndpoints } from './phases';
import { repair } from './repairOperation';
import { applyPlan } from './rolloutOperation';
import { restartServers, restartTargets } from './serverPhases';

type Runner<K extends Operation['kind']> = (
  cluster: ClusterEntity,
  op: Extract<Operation, { kind: K }>,
) => Promise<OperationOutcome>;

/**
 * Every operation the loop runs, by kind (one at a time, in arrival order: OperationQueue). The
 * first deploy is `runPending` on the phases the workflow was started with; `deploy retry` is not
 * an operation but the operator's answer to a phase that waits (phaseRunner.ts, operatorWait.ts).
 */
export const OPERATION_RUNNERS: { [K in Operation['kind']]: Runner<K> } = {
  /** `deploy start --tags …` on a running cluster (maybe with a new Plan, same hosts). */
  phases: async (cluster, op) => {
    const { state, ctx } = cluster;
    if (op.plan) {
      ctx.setPlanInput(op.plan, expandPlan(op.plan));
      state.setEndpoints(clusterEndpoints(ctx.plan));
    }
    for (const phase of op.phases) state.resetPhase(phase);
    state.addPhases(op.phases);
    await runPending(cluster);
    const failures = op.phases.flatMap((p) => state.failuresOf(p));
    return { ok: failures.length === 0, failures };
  },

  /** `deploy restart`: the target engines relaunched (their containers ensured first). */
  restart: async (cluster, op) => {
    const round = ++cluster.rounds.restart;
    for (const h of restartTargets(cluster.plan, op.request)) {
      cluster.state.markRunning(h, 'run_server', Date.now());
    }
    await runPhase(cluster, 'run_server', (c) => restartServers(c, op.request, round));
    cluster.state.setStage('ready');
    const failures = cluster.state.failuresOf('run_server');
    return { ok: failures.length === 0, failures };
  },

  /** A rollout of a new Plan, or `deploy rollback` to the previous one. */
  rollout: (cluster, op) => applyPlan(cluster, op.plan, op.rollback),

  /** A repair the health watch queued. */
  heal: (cluster, op) => repair(cluster, op.unit),
};

export function runOperation(cluster: ClusterEntity, op: Operation): Promise<OperationOutcome> {
  const runner = OPERATION_RUNNERS[op.kind] as Runner<Operation['kind']>;
  return runner(cluster, op);
}

/**
 * Run the phases still pending, each to success (the operator retries failed hosts), then the
 * cluster is ready — or cleaned, after clean_up. Between phases, a run whose history grew long
 * continues as new unless an operation waits for an answer from this run.
 */
export async function runPending(cluster: ClusterEntity): Promise<void> {
  const { state } = cluster;
  for (let phase = state.takeNextPhase(); phase; phase = state.takeNextPhase()) {
    if (phase === 'clean_up') {
      await cleanUpOrWait(cluster);
      state.setStage('cleaned');
      return;
    }
    await runPhase(cluster, phase);
    if (!cluster.operations.hasWork && shouldContinueAsNew(cluster)) await continueAsNewNow(cluster);
  }
  state.setStage('ready');
}
