import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { ping } from '../../src/activities/ping';
import * as workflows from '../../src/workflows';
import { roundTrip } from '../../src/workflows';
import { startTestServer, workflowBundle } from '../helpers/temporal';

describe('round trip on the real Temporal dev server', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  it('executes a workflow whose activity runs on a worker', async () => {
    const taskQueue = `test-${randomUUID()}`;
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: { ping },
    });
    const result = await worker.runUntil(
      env.client.workflow.execute(roundTrip, { workflowId: randomUUID(), taskQueue, args: ['hi'] }),
    );
    assert.deepEqual(result, { echoed: 'hi', worker: hostname() });
  });

  it('bundles every exported workflow (a missing re-export would make the server dispatch fail)', async () => {
    const { code } = await workflowBundle();
    for (const name of Object.keys(workflows)) {
      assert.match(code, new RegExp(`\\b${name}\\b`), `workflow ${name} missing from the bundle`);
    }
  });
});
