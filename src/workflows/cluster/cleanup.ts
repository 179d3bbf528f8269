import { CancellationScope, log } from '@temporalio/workflow';
import { hostError } from '../common';
import type { ClusterEntity } from './clusterEntity';
import { PhaseFailed } from './context';
import { cleanupAllHosts } from './phases';

/**
 * `deploy down` (the workflow's cancellation), at any moment: every host is cleaned up in a
 * non-cancellable scope, then the run ends as cancelled.
 */
export async function cleanUpAfterCancel(cluster: ClusterEntity): Promise<void> {
  await CancellationScope.nonCancellable(async () => {
    cluster.state.setStage('cleaning', 'clean_up');
    await cleanupAllHosts(cluster.ctx).catch((err: unknown) => reportCleanupFailure(cluster, err));
    cluster.state.setStage('cleaned');
  });
}

/**
 * A cancelled run has no operator waiting to retry, and it must still end cancelled: what its
 * cleanup could not do is logged and kept in the status (failures and cells), so `deploy down`,
 * `deploy status` and the Web UI name the hosts that may still run engines or hold files.
 */
function reportCleanupFailure(cluster: ClusterEntity, err: unknown): void {
  const { state } = cluster;
  const now = Date.now();
  if (!(err instanceof PhaseFailed)) {
    // Not a host's step failing (that one is in its cell): a host whose step did not finish
    // is not known to be clean.
    for (const host of state.status.hosts) {
      if (!state.isDone('clean_up', host)) state.markFailed(host, 'clean_up', now, hostError(err));
    }
  }
  state.finishPhase('clean_up', state.status.hosts, now);
  const failures = state.failuresOf('clean_up');
  state.setFailures(failures);
  log.error(
    `cleanup after cancellation failed on ${failures.map((f) => f.host).join(', ')}: ` +
      failures.map((f) => `${f.host}: ${f.type}: ${f.message}`).join('; '),
    { cluster: cluster.plan.cluster, failures },
  );
}
