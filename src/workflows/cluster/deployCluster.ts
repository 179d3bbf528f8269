import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import { ClusterEntity } from './clusterEntity';
import { deployInputProblems } from './inputChecks';
import {
  applyPlanUpdate,
  eventsQuery,
  planQuery,
  rollbackUpdate,
  restartServersSignal,
  setHealingUpdate,
  restartServersUpdate,
  retryFailedUpdate,
  runPhasesUpdate,
  statusQuery,
} from './messages';
import type { ClusterStateData } from './state';
import type { DeployOptions } from './types';

export interface DeployClusterInput {
  /** The single source of truth: what history records as deployed. */
  plan: Plan;
  options: DeployOptions;
  /** Set by continue-as-new: the previous run's state. */
  carried?: ClusterStateData;
}

/**
 * The cluster as a durable entity (workflow ID `cluster/<name>`): runs the selected phases, then
 * stays up to serve operations until cancelled. Cancellation at any moment cleans every host up
 * in a non-cancellable scope before the run ends as cancelled. The work is ClusterEntity's; this
 * function checks the input and routes the workflow's messages to it.
 */
export async function deployCluster(input: DeployClusterInput): Promise<void> {
  const problems = deployInputProblems(input.plan, input.options);
  if (problems.length > 0) {
    // Fails the run (not just the task): no retry can make this input valid.
    throw ApplicationFailure.nonRetryable(
      `invalid deployCluster input: ${problems.join('; ')}`,
      'InvalidInput',
    );
  }
  const cluster = new ClusterEntity(input);
  setHandler(statusQuery, () => cluster.status);
  setHandler(retryFailedUpdate, () => cluster.retryFailed(), { validator: () => cluster.validateRetry() });
  setHandler(runPhasesUpdate, (request) => cluster.runPhases(request), {
    validator: (request) => cluster.validateRunPhases(request),
  });
  setHandler(restartServersSignal, (request) => cluster.requestRestart(request));
  setHandler(restartServersUpdate, (request) => cluster.restart(request), {
    validator: (request) => cluster.validateRestart(request),
  });
  setHandler(eventsQuery, () => [...cluster.events]);
  setHandler(planQuery, () => cluster.plan);
  setHandler(applyPlanUpdate, (request) => cluster.applyPlan(request), {
    validator: (request) => cluster.validateApplyPlan(request),
  });
  setHandler(rollbackUpdate, () => cluster.rollback(), { validator: () => cluster.validateRollback() });
  setHandler(setHealingUpdate, ({ enabled }) => cluster.setHealing(enabled), {
    validator: (request) => cluster.validateSetHealing(request),
  });
  await cluster.run();
}
