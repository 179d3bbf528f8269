import { ApplicationFailure, setHandler } from '@temporalio/workflow';
import type { PlanInput } from '../../plan/compact';
import { ClusterEntity } from './clusterEntity';
import { hostStepsProgressSignal } from './hostStepsWorkflow';
import { expandedPlan, optionProblems, planProblems } from './inputChecks';
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
  /**
   * The single source of truth: what history records as deployed. The CLI sends the compact
   * form (the inventory; the workflow rebuilds the Plan from it), older clients the full Plan.
   */
  plan: PlanInput;
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
  const expanded = expandedPlan(input.plan);
  const problems = [
    ...optionProblems(input.options),
    ...('problem' in expanded ? [expanded.problem] : planProblems(expanded.plan)),
  ];
  if (problems.length > 0 || 'problem' in expanded) {
    // Fails the run (not just the task): no retry can make this input valid.
    throw ApplicationFailure.nonRetryable(
      `invalid deployCluster input: ${problems.join('; ')}`,
      'InvalidInput',
    );
  }
  const cluster = new ClusterEntity(input, expanded.plan);
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
  setHandler(hostStepsProgressSignal, (progress) => cluster.applyHostStepsProgress(progress));
  await cluster.run();
}
