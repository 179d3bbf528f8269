import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { deployCluster, fetchLogsWorkflow } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/cluster/messages';
import { DEFAULT_ACTIVITY_TUNING } from '../../src/workflows/cluster/types';
import { fetchLogsInput } from '../../src/workflows/logSources';
import { FakeHosts } from '../helpers/fakeHosts';
import { seedPlan } from '../helpers/plans';
import { startTestServer, workflowBundle } from '../helpers/temporal';
import { waitFor } from '../helpers/waitFor';

/** Log fetching with mocked activities: fan-out on the executor queue, down hosts reported. */
describe('fetchLogsWorkflow and the fetch_log phase', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** A shared-queue worker (workflows only) and an executor-queue worker (fetchHostLogs only). */
  async function withWorkers<T>(
    fake: FakeHosts,
    fn: (queues: { shared: string; executor: string }) => Promise<T>,
  ): Promise<T> {
    const shared = `test-${randomUUID()}`;
    const executor = `${shared}@executor`;
    const { fetchHostLogs } = fake.activities();
    const workflowWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: shared,
      workflowBundle: await workflowBundle(),
      activities: {},
    });
    const executorWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: executor,
      activities: { fetchHostLogs },
    });
    return executorWorker.runUntil(workflowWorker.runUntil(fn({ shared, executor })));
  }

  it('fetches each machine once on the executor queue and reports the one that is down', async () => {
    const fake = new FakeHosts();
    fake.host('d1').reachable = false;
    await withWorkers(fake, async ({ shared, executor }) => {
      const result = await env.client.workflow.execute(fetchLogsWorkflow, {
        taskQueue: shared,
        workflowId: `logs/${randomUUID()}`,
        args: [{ ...fetchLogsInput(plan, executor, { maximumAttempts: 2 }) }],
      });
      assert.deepEqual(fake.hosts('fetchHostLogs').sort(), ['d0', 'p0', 'p1']);
      assert.deepEqual(result.failed, ['d1']);
      assert.equal(result.bytesReceived, 3000);
      const d1 = result.hosts.find((h) => h.host === 'd1')!;
      assert.equal(d1.ok, false);
      assert.equal(d1.error?.type, 'ConnectionError');
      assert.match(d1.error?.message ?? '', /cannot reach d1/);
    });
  });

  it('the fetch_log phase shows fetched hosts ok, the down one failed, and the cluster stays ready', async () => {
    const fake = new FakeHosts();
    fake.host('d1').reachable = false;
    await withWorkers(fake, async ({ shared, executor }) => {
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue: shared,
        workflowId: `cluster/${randomUUID()}`,
        args: [
          {
            plan,
            options: {
              phases: ['fetch_log'],
              parallelism: 5,
              executorTaskQueue: executor,
              activity: {
                ...DEFAULT_ACTIVITY_TUNING,
                retry: { ...DEFAULT_ACTIVITY_TUNING.retry, initialInterval: '10ms', maximumAttempts: 2 },
              },
              maxHistoryEvents: 10_000,
            },
          },
        ],
      });
      const status = await waitFor(
        async () => {
          const s = await handle.query(statusQuery);
          assert.notEqual(s.stage, 'waiting-for-operator', JSON.stringify(s.failures));
          return s.stage === 'ready' && s;
        },
        { interval: 100, what: 'the deploy to be ready' },
      );
      const cell = (h: string) => status.table[h]?.fetch_log;
      for (const h of ['p0', 'p1', 'd0']) {
        assert.equal(cell(h)?.state, 'ok', h);
        assert.equal(cell(h)?.note, '1000 B, 2 files');
      }
      assert.equal(cell('d1')?.state, 'failed');
      assert.equal(cell('d1')?.error?.type, 'ConnectionError');
      assert.equal(cell('c0')?.state, 'skipped', 'c0 shares p0’s machine');
      await handle.terminate();
    });
  });
});
