import { log, patched, workflowInfo } from '@temporalio/workflow';
import { CONTINUE_AS_NEW_ON_UPGRADE } from '../patches';
import type { ClusterEntity } from './clusterEntity';

/**
 * A cluster workflow runs for weeks while its workers are upgraded. Each run records the workflow
 * build it started on (`currentBuildId`: by default the SDK version and the bundle's checksum,
 * the same in a replay as in the run it replays); at an idle point — ready, no operation queued
 * or running — a run whose worker now runs another build continues as new, so the cluster moves
 * to the new code and old code paths stop being needed (docs/upgrades.md).
 */
export function recordStartBuild(cluster: ClusterEntity): void {
  cluster.state.setBuildId(workflowInfo().currentBuildId);
}

/**
 * Called at the loop's idle points (a watch result judged, an operation finished): when the build
 * changed, asks the loop to continue as new (`cluster.upgradeTo`).
 */
export function checkForUpgrade(cluster: ClusterEntity): void {
  const from = cluster.state.data.buildId;
  const to = workflowInfo().currentBuildId;
  if (!from || !to || from === to || cluster.upgradeTo !== undefined) return;
  if (cluster.state.status.stage !== 'ready' || cluster.operations.hasWork) return;
  if (!patched(CONTINUE_AS_NEW_ON_UPGRADE)) return;
  log.info(`moving to new workflow code ${from} → ${to}`, { cluster: cluster.plan.cluster });
  cluster.upgradeTo = to;
}
