import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { deployCluster } from '../../src/workflows';
import type { DeployClusterInput } from '../../src/workflows/cluster/deployCluster';
import { waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { seedPlan } from '../helpers/plans';
import { mockedOptions, startTestServer, workflowBundle } from '../helpers/temporal';

/**
 * A cluster workflow moves to new workflow code at its next idle point: started on a worker of
 * build 'a', left ready, then served by a worker of build 'b' on the same task queue, it
 * continues as new (behind patch continue-as-new-on-upgrade), and the new run stays on 'b'.
 * With the same build on the new worker nothing happens.
 */
describe('continue-as-new on a workflow code upgrade (mocked hosts, real Temporal)', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** Every host healthy: the watch returns after maxWatchMs, an idle point, as the real one does. */
  const activities = new FakeHosts().activities();

  async function worker(taskQueue: string, buildId: string) {
    return Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      buildId,
      workflowBundle: await workflowBundle(),
      activities,
      // A stopped worker's sticky queue hands its workflows on quickly.
      stickyQueueScheduleToStartTimeout: '1s',
    });
  }

  /** Starts a cluster on a worker of build 'a', lets it get ready, then serves it by `next`. */
  async function upgradeTo(next: string) {
    const taskQueue = `upgrade-${randomUUID()}`;
    const first = await worker(taskQueue, 'a');
    const running = first.run();
    const handle = await env.client.workflow.start(deployCluster, {
      taskQueue,
      workflowId: `cluster/${randomUUID()}`,
      args: [
        {
          plan,
          options: mockedOptions(taskQueue, ['run_server'], {
            health: {
              intervalMs: 100,
              probeTimeoutMs: 1000,
              maxWatchMs: 500,
              heal: true,
              healAttempts: 1,
              healBackoffMs: [100],
            },
          }),
        },
      ],
    });
    await waitForStatus(handle, (s) => s.stage === 'ready' && s.health !== undefined);
    first.shutdown();
    await running;
    const second = await worker(taskQueue, next);
    return { handle, second };
  }

  async function continuedAsNew(workflowId: string, runId?: string) {
    const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
    return (history.events ?? []).find((e) => e.workflowExecutionContinuedAsNewEventAttributes);
  }

  it('a new build: continues as new at the next idle point, and the new run stays', async () => {
    const { handle, second } = await upgradeTo('b');
    await second.runUntil(async () => {
      const firstRun = (await handle.describe()).runId;
      const deadline = Date.now() + 60_000;
      let moved;
      while (!(moved = await continuedAsNew(handle.workflowId, firstRun)) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.ok(moved, 'the first run continued as new');
      const input =
        await env.client.options.loadedDataConverter.payloadConverter.fromPayload<DeployClusterInput>(
          moved.workflowExecutionContinuedAsNewEventAttributes!.input!.payloads![0]!,
        );
      assert.equal(input.carried?.buildId, 'a', 'the carried state names the build the run started on');
      assert.equal(input.carried?.status.stage, 'ready');
      const latest = env.client.workflow.getHandle(handle.workflowId);
      const status = await waitForStatus(latest, (s) => s.stage === 'ready' && s.generation === 1);
      assert.equal(status.generation, 1);
      // The new run records 'b' as its build: several idle points later it has not moved again.
      await new Promise((r) => setTimeout(r, 3000));
      const newRun = (await latest.describe()).runId;
      assert.notEqual(newRun, firstRun);
      assert.equal(await continuedAsNew(handle.workflowId, newRun), undefined);
      await latest.terminate();
    });
  });

  it('the same build: no continue-as-new', async () => {
    const { handle, second } = await upgradeTo('a');
    await second.runUntil(async () => {
      const firstRun = (await handle.describe()).runId;
      // Idle points pass every half second.
      await new Promise((r) => setTimeout(r, 4000));
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.equal(await continuedAsNew(handle.workflowId, firstRun), undefined);
      assert.equal((await handle.describe()).runId, firstRun);
      await handle.terminate();
    });
  });
});
