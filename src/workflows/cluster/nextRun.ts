import { allHandlersFinished, condition, continueAsNew, workflowInfo } from '@temporalio/workflow';
import type { ClusterEntity } from './clusterEntity';
import type { deployCluster } from './deployCluster';

/** The run's history grew long: the server suggests a new run, or it passed maxHistoryEvents. */
export function shouldContinueAsNew(cluster: ClusterEntity): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= cluster.options.maxHistoryEvents;
}

/**
 * End this run and start the next with the same Plan, options and state: the health watch steps
 * aside first (its activity is awaited until cancelled), and every handler finishes (an update's
 * caller is answered by this run).
 */
export async function continueAsNewNow(cluster: ClusterEntity): Promise<never> {
  cluster.continuingAsNew = true;
  cluster.watch.stepAside();
  await condition(() => cluster.watch.stopped);
  await condition(allHandlersFinished);
  cluster.state.nextGeneration();
  return continueAsNew<typeof deployCluster>({
    plan: cluster.ctx.planInput,
    options: cluster.options,
    carried: cluster.state.data,
  });
}
