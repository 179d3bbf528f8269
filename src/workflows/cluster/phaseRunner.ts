import type { Phase } from '../../shared/phases';
import type { ClusterEntity } from './clusterEntity';
import { PhaseFailed, type PhaseContext } from './context';
import { PHASE_RUNNERS, cleanupAllHosts } from './phases';
import type { Stage } from './types';

type PhaseWork = (ctx: PhaseContext) => Promise<void>;

/** How a phase run ended: done on every host, or abandoned by the operator (a rollout's rollback). */
export type PhaseEnd = 'done' | 'abandoned';

/**
 * Run one phase to success. After a failed attempt the cluster waits for the operator: the
 * running operation's caller is answered at once, and `deploy retry` runs the failed hosts again;
 * `deploy rollback` (only while a rollout waits) abandons it.
 */
export async function runPhase(
  cluster: ClusterEntity,
  phase: Phase,
  work: PhaseWork = PHASE_RUNNERS[phase],
  stage: Extract<Stage, 'deploying' | 'healing' | 'rolling-out'> = 'deploying',
): Promise<PhaseEnd> {
  const { state } = cluster;
  state.setStage(stage, phase);
  state.setFailures([]);
  for (;;) {
    try {
      await work(cluster.ctx);
      state.finishPhase(phase, state.status.hosts, Date.now());
      return 'done';
    } catch (err) {
      if (!(err instanceof PhaseFailed)) throw err;
      showWaiting(cluster, err.phase);
      const answer = await cluster.operator.wait();
      state.setFailures([]);
      if (answer === 'abandon') return 'abandoned';
      state.setStage(stage, phase);
    }
  }
}

/**
 * The clean_up phase (`--tags clean_up`): like any phase, hosts where it fails wait for the
 * operator (`deploy retry` runs it again on every host; cleanup is idempotent).
 */
export async function cleanUpOrWait(cluster: ClusterEntity): Promise<void> {
  for (;;) {
    try {
      await cleanupAllHosts(cluster.ctx);
      return;
    } catch (err) {
      if (!(err instanceof PhaseFailed)) throw err;
      showWaiting(cluster, 'clean_up');
      await cluster.operator.wait();
      cluster.state.setFailures([]);
      cluster.state.setStage('cleaning', 'clean_up');
    }
  }
}

/** Show the phase's failures as waiting for the operator, and answer the running operation's caller. */
function showWaiting(cluster: ClusterEntity, phase: Phase): void {
  const { state } = cluster;
  state.setFailures(state.failuresOf(phase));
  state.setStage('waiting-for-operator', phase);
  cluster.operations.answerRunningEarly({ ok: false, failures: state.status.failures });
}
