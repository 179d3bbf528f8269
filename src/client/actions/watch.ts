import type { Client } from '@temporalio/client';
import logUpdate from 'log-update';
import { clusterWorkflowId } from '../../shared/ids';
import { statusQuery } from '../../workflows/cluster/messages';
import type { ClusterStatus } from '../../workflows/cluster/types';
import { renderStatus } from '../progress';
import { stepAttempts, workflowTaskTrouble } from '../stepAttempts';
import { queryTrouble } from '../workerTrouble';
import { printStatus } from './status';

const SETTLED = new Set(['ready', 'waiting-for-operator', 'cleaned']);

/**
 * Show the cluster's table live until `done` settles (an operation's update result), then print
 * the final table once and return the result. Ctrl-C stops watching; the operation goes on. While
 * no worker answers, the last table stays with a line that says so: the operation waits for a
 * worker, it has not failed.
 */
export async function followUntil<T>(client: Client, cluster: string, done: Promise<T>): Promise<T> {
  let settled = false;
  const tracked = done.finally(() => {
    settled = true;
  });
  const handle = client.workflow.getHandle(clusterWorkflowId(cluster));
  const tty = process.stdout.isTTY === true;
  let last = '';
  let status: ClusterStatus | undefined;
  while (!settled) {
    const [description, answer] = await Promise.all([
      handle.describe(),
      handle.query(statusQuery).then(
        (s) => ({ status: s }),
        (err: unknown) => ({ trouble: queryTrouble(err) }),
      ),
    ]);
    if ('status' in answer) status = answer.status;
    const table = status ? renderStatus(status, Date.now(), tty, stepAttempts(description)) : '';
    const view = withTrouble('trouble' in answer ? `${table}\n${answer.trouble}`.trim() : table, description);
    if (tty) logUpdate(view);
    else if (view !== last) console.log(`${view}\n`);
    last = view;
    await Promise.race([tracked.catch(() => undefined), new Promise((r) => setTimeout(r, 500))]);
  }
  // The final table replaces the live one.
  if (tty) logUpdate.clear();
  const result = await tracked;
  await printStatus(client, cluster);
  return result;
}

/**
 * Follow a cluster until its workflow settles (ready, waiting for the operator, cleaned) or, with
 * `untilClosed`, until the run ends. Ctrl-C only stops watching: the deploy goes on.
 */
export async function watchCluster(
  client: Client,
  cluster: string,
  opts: { untilClosed?: boolean; intervalMs?: number } = {},
): Promise<number> {
  const handle = client.workflow.getHandle(clusterWorkflowId(cluster));
  const tty = process.stdout.isTTY === true;
  let detached = false;
  const onSigint = () => {
    detached = true;
  };
  process.once('SIGINT', onSigint);
  let last = '';
  let status: ClusterStatus | undefined;
  try {
    for (;;) {
      const description = await handle.describe();
      const closed = description.status.name !== 'RUNNING';
      let trouble: string | undefined;
      status = await handle.query(statusQuery).catch((err: unknown) => {
        // A closed run's query may fail too; only a running one waits for a worker.
        if (!closed) trouble = queryTrouble(err);
        return status;
      });
      if (status || trouble) {
        const table = status ? renderStatus(status, Date.now(), tty, stepAttempts(description)) : '';
        const view = withTrouble(trouble ? `${table}\n${trouble}`.trim() : table, description);
        if (tty) logUpdate(view);
        else if (view !== last) console.log(`${view}\n`);
        last = view;
      }
      if (closed) {
        if (tty) logUpdate.done();
        console.log(`workflow ${clusterWorkflowId(cluster)} ${description.status.name.toLowerCase()}`);
        return description.status.name === 'COMPLETED' || description.status.name === 'CANCELLED' ? 0 : 1;
      }
      if (!opts.untilClosed && status && SETTLED.has(status.stage)) {
        if (tty) logUpdate.done();
        return status.stage === 'waiting-for-operator' ? 2 : 0;
      }
      if (detached) {
        if (tty) logUpdate.done();
        console.log(`detached; ${cluster} goes on — \`deploy status ${cluster}\` to look again`);
        return 0;
      }
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 500));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function withTrouble(view: string, description: Parameters<typeof workflowTaskTrouble>[0]): string {
  const trouble = workflowTaskTrouble(description);
  return trouble ? `${view}\n${trouble}` : view;
}
