import type { Client, WorkflowUpdateHandle } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdConflictPolicy } from '../../temporal/clientSdk';
import type { Plan } from '../../plan/types';
import { planFromFile, plansFromFile } from '../planFile';
import { selectPhases } from '../../shared/phases';
import { clusterFromWorkflowId, clusterWorkflowId } from '../../shared/ids';
import { DEPLOY_CLUSTER } from '../../shared/searchAttributes';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../shared/taskQueues';
import {
  restartServersSignal,
  restartServersUpdate,
  retryFailedUpdate,
  applyPlanUpdate,
  planQuery,
  rollbackUpdate,
  runPhasesUpdate,
  setHealingUpdate,
  statusQuery,
  type RolloutOutcome,
} from '../../workflows/cluster/messages';
import { diffPlans, renderDiff } from '../../workflows/cluster/diff';
import {
  DEFAULT_ACTIVITY_TUNING,
  DEFAULT_HEALTH,
  type ClusterStatus,
  type DeployOptions,
} from '../../workflows/cluster/types';
import { withClient } from '../temporalClient';
import { DEPLOY_CLUSTER_WORKFLOW, type DeployClusterWorkflow } from '../workflowTypes';
import { parseExtraVars, planSummary } from './planInput';
import { resolveCluster } from './status';
import { followUntil, watchCluster } from './watch';

export interface StartFlags {
  inventory: string;
  tags?: string[];
  skipTags?: string[];
  extraVars: string[];
  detach?: boolean;
  parallelism: number;
  attempts: number;
  executor: string;
  /** Health watch interval in ms; 0 turns it off. */
  watchEvery?: number;
  /** Repair units that stop serving (commander's --no-heal sets false). */
  heal?: boolean;
}

export async function startCluster(flags: StartFlags): Promise<number> {
  // The workflow is given the compact Plan (the inventory it is built from) and rebuilds the rest:
  // a Plan of hundreds of hosts would not fit Temporal's payload limit (src/plan/compact.ts).
  const { plan, compact } = plansFromFile(flags.inventory, parseExtraVars(flags.extraVars));
  const tagsGiven = (flags.tags?.length ?? 0) > 0 || (flags.skipTags?.length ?? 0) > 0;
  const phases = selectPhases(flags.tags, flags.skipTags);
  const options: DeployOptions = {
    phases,
    parallelism: flags.parallelism,
    executorTaskQueue: executorTaskQueue(flags.executor),
    activity: {
      ...DEFAULT_ACTIVITY_TUNING,
      retry: { ...DEFAULT_ACTIVITY_TUNING.retry, maximumAttempts: flags.attempts },
    },
    maxHistoryEvents: 10_000,
    health: {
      ...DEFAULT_HEALTH,
      intervalMs: flags.watchEvery ?? DEFAULT_HEALTH.intervalMs,
      heal: flags.heal !== false,
    },
  };
  const workflowId = clusterWorkflowId(plan.cluster);
  return withClient(async (client) => {
    try {
      await client.workflow.start<DeployClusterWorkflow>(DEPLOY_CLUSTER_WORKFLOW, {
        workflowId,
        taskQueue: SHARED_TASK_QUEUE,
        args: [{ plan: compact, options }],
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.FAIL,
        typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: plan.cluster }],
        staticSummary: planSummary(plan),
        staticDetails: `phases: ${phases.join(' → ')}`,
      });
      console.log(`started ${workflowId}: ${phases.join(' → ')}`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      if (!tagsGiven) return applyToRunning(client, plan, flags.detach === true);
      // The inventory as it is now goes along: the phases apply what the operator just edited.
      const handle = client.workflow.getHandle(workflowId);
      const before = await handle.query(statusQuery);
      const what = phases.join(' → ');
      // Accepted or refused (the workflow refuses while it waits for the operator), never silent.
      const update = await refusedOrAccepted(
        handle.startUpdate(runPhasesUpdate, { args: [{ phases, plan: compact }], waitForStage: 'ACCEPTED' }),
      );
      const ahead = busyWith(before);
      console.log(
        ahead
          ? `cluster ${plan.cluster} is busy (${ahead}); ${what} with this inventory is queued behind it`
          : `cluster ${plan.cluster} is ready; running ${what} on it with this inventory`,
      );
      if (flags.detach) {
        console.log(`\`deploy status ${plan.cluster}\` shows its progress`);
        return 0;
      }
      const outcome = await followUntil(client, plan.cluster, update.result());
      console.log(
        outcome.ok
          ? `${what}: done`
          : `${what}: failed on ${outcome.failures.map((f) => `${f.host} (${f.phase}: ${f.type})`).join(', ')}`,
      );
      return outcome.ok ? 0 : 2;
    }
    if (flags.detach) return 0;
    return watchCluster(client, plan.cluster);
  });
}

/**
 * `deploy start -i FILE` on a running cluster (no --tags): what the edited inventory changes is
 * applied as a rollout — unit by unit, drained from the proxy — and followed live.
 */
async function applyToRunning(client: Client, plan: Plan, detach: boolean): Promise<number> {
  const handle = client.workflow.getHandle(clusterWorkflowId(plan.cluster));
  const diff = diffPlans(await handle.query(planQuery), plan);
  if (!diff.changed) {
    console.log(`cluster ${plan.cluster} is running and already matches this inventory: nothing to do`);
    return 0;
  }
  console.log(renderDiff(diff));
  return followRollout(
    client,
    plan.cluster,
    await refusedOrAccepted(
      handle.startUpdate(applyPlanUpdate, { args: [{ plan }], waitForStage: 'ACCEPTED' }),
    ),
    'rollout',
    detach,
  );
}

async function followRollout(
  client: Client,
  cluster: string,
  update: WorkflowUpdateHandle<RolloutOutcome>,
  what: string,
  detach: boolean,
): Promise<number> {
  if (detach) {
    console.log(`${what} of ${cluster} accepted; \`deploy status ${cluster}\` shows its progress`);
    return 0;
  }
  const outcome = await followUntil(client, cluster, update.result());
  const outage =
    outcome.decodeOutageMs === undefined
      ? ''
      : `; decode outage ${(outcome.decodeOutageMs / 1000).toFixed(1)} s`;
  console.log(
    outcome.ok
      ? `${what}: done${outage}`
      : `${what}: stopped, failed on ${outcome.failures.map((f) => `${f.host} (${f.phase}: ${f.type})`).join(', ')}; the units not reached still serve — \`deploy retry ${cluster}\` or \`deploy rollback ${cluster}\``,
  );
  return outcome.ok ? 0 : 2;
}

/** `deploy rollback`: back to the Plan in force before the last rollout. */
export async function rollbackCluster(
  cluster: string | undefined,
  flags: ClusterFlags & { detach?: boolean },
) {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const handle = client.workflow.getHandle(clusterWorkflowId(name));
    const update = await refusedOrAccepted(handle.startUpdate(rollbackUpdate, { waitForStage: 'ACCEPTED' }));
    return followRollout(client, name, update, 'rollback', flags.detach === true);
  });
}

/**
 * `deploy diff -i FILE`: what applying the inventory to the running cluster would change, per
 * unit and host. Changes nothing. Exit 0: nothing to change; 2: changes (terraform's convention).
 */
export async function diffCluster(flags: {
  inventory: string;
  extraVars: string[];
  json?: boolean;
}): Promise<number> {
  const plan = planFromFile(flags.inventory, parseExtraVars(flags.extraVars));
  return withClient(async (client) => {
    const current = await client.workflow.getHandle(clusterWorkflowId(plan.cluster)).query(planQuery);
    const diff = diffPlans(current, plan);
    console.log(flags.json ? JSON.stringify(diff, null, 2) : renderDiff(diff));
    return diff.changed ? 2 : 0;
  });
}

/**
 * An update the workflow's validator refused comes back from `startUpdate` as a handle whose
 * outcome is already known, not as an error: look at it before telling the operator it was
 * accepted. A refused one throws its reason; an accepted one is returned to be followed.
 */
async function refusedOrAccepted<T>(
  started: Promise<WorkflowUpdateHandle<T>>,
): Promise<WorkflowUpdateHandle<T>> {
  const update = await started;
  const early = await Promise.race([
    update.result().then(
      () => undefined,
      (err: unknown) => ({ err }),
    ),
    new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 100)),
  ]);
  if (early) throw early.err;
  return update;
}

/** What a running cluster is doing that a new operation would wait for; undefined when idle. */
function busyWith(s: ClusterStatus): string | undefined {
  const parts: string[] = [];
  if (s.stage === 'deploying' && !s.operation) parts.push(`deploying: ${s.currentPhase ?? 'starting'}`);
  if (s.operation) parts.push(`running ${s.operation.what}`);
  for (const q of s.queued ?? []) parts.push(`then ${q.what}`);
  return parts.length > 0 ? parts.join(', ') : undefined;
}

export interface ClusterFlags {
  inventory?: string;
}

export async function retryCluster(
  cluster: string | undefined,
  flags: ClusterFlags & { detach?: boolean },
): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const handle = client.workflow.getHandle(clusterWorkflowId(name));
    if (flags.detach) {
      await refusedOrAccepted(handle.startUpdate(retryFailedUpdate, { waitForStage: 'ACCEPTED' }));
      console.log(`retry of ${name} accepted`);
      return 0;
    }
    const outcome = await handle.executeUpdate(retryFailedUpdate);
    console.log(
      outcome.ok
        ? `${outcome.phase}: every host succeeded; continuing`
        : `${outcome.phase}: still failing on ${outcome.failures.map((f) => f.host).join(', ')}`,
    );
    return outcome.ok ? await watchCluster(client, name) : 2;
  });
}

export async function downCluster(cluster: string | undefined, flags: ClusterFlags): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const handle = client.workflow.getHandle(clusterWorkflowId(name));
    await handle.cancel();
    console.log(`cancelling ${name}: cleaning up every host`);
    return watchCluster(client, name, { untilClosed: true });
  });
}

/** `deploy heal on|off`: the workflow answers with the setting now in force. */
export async function setHealing(
  enabled: boolean,
  cluster: string | undefined,
  flags: ClusterFlags,
): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const { healing } = await client.workflow
      .getHandle(clusterWorkflowId(name))
      .executeUpdate(setHealingUpdate, { args: [{ enabled }] });
    console.log(
      healing === 'on'
        ? `self-healing of ${name} is on: units that stop serving are repaired`
        : `self-healing of ${name} is off: the watch reports health, nothing is repaired (\`deploy heal on ${name}\`)`,
    );
    return 0;
  });
}

export interface RestartFlags extends ClusterFlags {
  role?: ('prefill' | 'decode')[];
  host?: string[];
  syncCode?: boolean;
  detach?: boolean;
}

export async function restartCluster(cluster: string | undefined, flags: RestartFlags): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const handle = client.workflow.getHandle(clusterWorkflowId(name));
    const request = { roles: flags.role, hosts: flags.host, syncCode: flags.syncCode === true };
    if (flags.detach) {
      await handle.signal(restartServersSignal, request);
      console.log(`restart of ${name} requested; \`deploy status ${name}\` shows its progress`);
      return 0;
    }
    const outcome = await handle.executeUpdate(restartServersUpdate, { args: [request] });
    console.log(
      outcome.ok
        ? `restarted ${outcome.hosts.join(', ')}: ready again`
        : `restart failed on ${outcome.failures.map((f) => `${f.host}: ${f.message}`).join('; ')}`,
    );
    return outcome.ok ? 0 : 2;
  });
}

export async function listClusters(flags: { all?: boolean }): Promise<void> {
  await withClient(async (client) => {
    const since = new Date(Date.now() - 24 * 3600_000).toISOString();
    const query = flags.all
      ? `WorkflowType = '${DEPLOY_CLUSTER_WORKFLOW}'`
      : `WorkflowType = '${DEPLOY_CLUSTER_WORKFLOW}' AND (ExecutionStatus = 'Running' OR CloseTime > '${since}')`;
    let n = 0;
    for await (const wf of client.workflow.list({ query })) {
      const phase = wf.typedSearchAttributes.get({ name: 'DeployPhase', type: 'KEYWORD' } as never);
      console.log(
        `${(clusterFromWorkflowId(wf.workflowId) ?? wf.workflowId).padEnd(20)} ${wf.status.name.padEnd(12)} ${String(phase ?? '').padEnd(22)} started ${wf.startTime.toISOString()}`,
      );
      n++;
    }
    if (n === 0) console.log('no cluster workflows');
  });
}
