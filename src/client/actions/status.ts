import type { Client } from '@temporalio/client';
import { clusterFromWorkflowId, clusterWorkflowId } from '../../shared/ids';
import { eventsQuery, statusQuery } from '../../workflows/cluster/messages';
import type { ClusterStatus } from '../../workflows/cluster/types';
import { renderStatus } from '../progress';
import { stepAttempts, workflowTaskTrouble } from '../stepAttempts';
import { withClient } from '../temporalClient';
import { DEPLOY_CLUSTER_WORKFLOW } from '../workflowTypes';

/** CLUSTER argument, or --inventory's cluster name, or the only running cluster. */
export async function resolveCluster(client: Client, cluster?: string, inventory?: string): Promise<string> {
  if (cluster) return cluster;
  if (inventory) {
    // The inventory loader (YAML, templates, schemas) only when an inventory names the cluster.
    const { planFromFile } = require('../planFile') as typeof import('../planFile');
    return planFromFile(inventory, {}).cluster;
  }
  const running: string[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowType = '${DEPLOY_CLUSTER_WORKFLOW}' AND ExecutionStatus = 'Running'`,
  })) {
    running.push(clusterFromWorkflowId(wf.workflowId) ?? wf.workflowId);
  }
  if (running.length === 1) return running[0]!;
  throw new Error(
    running.length === 0
      ? 'no cluster is running; name one or pass --inventory'
      : `several clusters are running (${running.join(', ')}); name one`,
  );
}

export async function queryStatus(client: Client, cluster: string): Promise<ClusterStatus> {
  return client.workflow.getHandle(clusterWorkflowId(cluster)).query(statusQuery);
}

/** Print the status once; exit code 0 when ready, 2 when waiting for the operator. */
export async function printStatus(client: Client, cluster: string, json = false): Promise<number> {
  const handle = client.workflow.getHandle(clusterWorkflowId(cluster));
  // Both at once: one round trip less for a command operators run in loops.
  const [description, status] = await Promise.all([handle.describe(), handle.query(statusQuery)]);
  const retrying = stepAttempts(description);
  const workflowTask = workflowTaskTrouble(description);
  if (json) {
    console.log(
      JSON.stringify({ workflow: description.status.name, ...status, retrying, workflowTask }, null, 2),
    );
  } else {
    console.log(renderStatus(status, Date.now(), process.stdout.isTTY === true, retrying));
    if (workflowTask) console.log(workflowTask);
    if (description.status.name !== 'RUNNING')
      console.log(`workflow ${description.status.name.toLowerCase()}`);
  }
  return status.stage === 'waiting-for-operator' ? 2 : 0;
}

/** `deploy events`: health changes and repairs, oldest first, with their times. */
export async function showEvents(
  cluster: string | undefined,
  flags: { inventory?: string; json?: boolean },
): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const events = await client.workflow.getHandle(clusterWorkflowId(name)).query(eventsQuery);
    if (flags.json) {
      console.log(JSON.stringify(events, null, 2));
      return 0;
    }
    if (events.length === 0) console.log(`${name}: no events yet (they start once the cluster is ready)`);
    for (const e of events) {
      const what = [e.kind, e.unit, e.result].filter(Boolean).join(' ');
      console.log(`${new Date(e.at).toISOString()}  ${what.padEnd(28)} ${e.message}`);
    }
    return 0;
  });
}

/** `deploy status`: operators run it in loops, so this module loads only the client and the table. */
export async function showStatus(
  cluster: string | undefined,
  flags: { inventory?: string; json?: boolean },
): Promise<number> {
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    return printStatus(client, name, flags.json);
  });
}
