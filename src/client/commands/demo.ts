import type { Command } from 'commander';
import { NativeConnection } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { defaultDevServerOptions, uiUrl } from '../../temporal/devServer';
import { createWorkers, installQuietRuntime } from '../../worker';
import { SHARED_TASK_QUEUE } from '../../shared/taskQueues';
import { roundTrip } from '../../workflows';
import { connectClient } from '../temporalClient';
import { ensureDevServer } from './server';

/**
 * The README's first command: everything on this machine, nothing to configure. Starts (or
 * reuses) the local Temporal dev server, runs a worker, proves the round trip and prints where to
 * look in the Web UI.
 */
export async function runDemo(): Promise<void> {
  installQuietRuntime();
  const o = defaultDevServerOptions();
  await ensureDevServer(o);
  const { client, connection, address } = await connectClient();
  const native = await NativeConnection.connect({ address });
  try {
    const workers = await createWorkers({ connection: native, namespace: 'default', executor: false });
    const worker = workers[0]!;
    const workflowId = `round-trip/${randomUUID()}`;
    const result = await worker.runUntil(
      client.workflow.execute(roundTrip, {
        workflowId,
        taskQueue: SHARED_TASK_QUEUE,
        args: ['hello from omni-deploy'],
      }),
    );
    console.log(`round trip ok: "${result.echoed}" answered by worker on ${result.worker}`);
    console.log(`Web UI: ${uiUrl(o)}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
  } finally {
    await native.close();
    await connection.close();
  }
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole chain locally: Temporal dev server, worker, a workflow; print the Web UI address',
    )
    .action(runDemo);
}
