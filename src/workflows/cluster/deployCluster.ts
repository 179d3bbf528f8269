import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  isCancellation,
  setHandler,
} from '@temporalio/workflow';
import type { PlanInput } from '../../plan/compact';
import { cleanUpAfterCancel } from './cleanup';
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
import { continueAsNewNow, shouldContinueAsNew } from './nextRun';
import { runOperation, runPending } from './operationRunners';
import { checkForUpgrade, recordStartBuild } from './upgrade';
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
 * in a non-cancellable scope before the run ends as cancelled. ClusterEntity keeps the state and
 * answers the workflow's messages; this function checks the input, wires the handlers and runs
 * the loop (`run`).
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
  await run(cluster);
}

/**
 * Run the selected phases, then serve operations one at a time until the cluster is cleaned.
 * At an idle point a run whose history grew long, or whose worker now runs another workflow
 * build (upgrade.ts), continues as new.
 */
async function run(cluster: ClusterEntity): Promise<void> {
  try {
    recordStartBuild(cluster);
    cluster.watch.afterResult = () => checkForUpgrade(cluster);
    cluster.watch.start();
    await runPending(cluster);
    while (cluster.state.status.stage !== 'cleaned') {
      await condition(
        () => cluster.operations.hasWork || shouldContinueAsNew(cluster) || cluster.upgradeTo !== undefined,
      );
      const op = cluster.operations.start();
      if (!op) {
        await continueAsNewNow(cluster);
        continue;
      }
      const outcome = await runOperation(cluster, op);
      if (outcome.ok) cluster.state.settleRunningCells(Date.now());
      cluster.operations.finish(outcome);
      checkForUpgrade(cluster);
    }
    await condition(allHandlersFinished);
  } catch (err) {
    if (isCancellation(err)) await cleanUpAfterCancel(cluster);
    throw err;
  }
}
