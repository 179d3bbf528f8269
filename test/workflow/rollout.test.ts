import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deployCluster } from '../../src/workflows';
import {
  applyPlanUpdate,
  planQuery,
  retryFailedUpdate,
  rollbackUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';
import { waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { seedPlan } from '../helpers/plans';
import { startTestServer, withMockedWorker } from '../helpers/temporal';

/** What the hosts saw, in order: container replacements, code, engine launches, proxy reloads. */
const rolloutLog = (fake: FakeHosts) =>
  fake.log((c) => ['ensureContainer', 'syncCode', 'launchEngines', 'ensureProxy'].includes(c.activity));

describe('rollouts: a changed Plan applied unit by unit (mocked hosts, real Temporal)', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();
  const upstream = (host: string) => {
    const h = plan.hosts.find((x) => x.name === host)!;
    return `${h.address}:${h.apiServers[0]!.port}`;
  };

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  async function withCluster(fake: FakeHosts, fn: (h: Awaited<ReturnType<typeof start>>) => Promise<void>) {
    await withMockedWorker(env, fake.activities(), 'rollout', async (taskQueue) => {
      const handle = await start(taskQueue);
      try {
        await waitForStatus(handle, (s) => s.stage === 'ready');
        fake.clear();
        await fn(handle);
      } finally {
        await handle.terminate().catch(() => undefined);
      }
    });
  }
  function start(taskQueue: string) {
    const options: DeployOptions = {
      phases: ['run_server'],
      parallelism: 50,
      executorTaskQueue: taskQueue,
      activity: {
        ...DEFAULT_ACTIVITY_TUNING,
        retry: { ...DEFAULT_ACTIVITY_TUNING.retry, initialInterval: '10ms', maximumAttempts: 1 },
      },
      maxHistoryEvents: 10_000,
    };
    return env.client.workflow.start(deployCluster, {
      taskQueue,
      workflowId: `cluster/${randomUUID()}`,
      args: [{ plan, options }],
    });
  }

  it('a prefill-only change restarts prefill instances one at a time, each drained first; decode untouched', async () => {
    const fake = new FakeHosts();
    await withCluster(fake, async (handle) => {
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 8' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.deepEqual(outcome, { ok: true, changed: true, failures: [] });
      assert.deepEqual(rolloutLog(fake), [
        'ensureProxy c0 drained=[] (waits for in-flight)',
        `ensureProxy c0 drained=[${upstream('p0')}] (waits for in-flight)`,
        'launchEngines p0 (restart)',
        'ensureProxy c0 drained=[]',
        `ensureProxy c0 drained=[${upstream('p1')}] (waits for in-flight)`,
        'launchEngines p1 (restart)',
        'ensureProxy c0 drained=[]',
        'ensureProxy c0 drained=[]',
      ]);
      assert.deepEqual((await handle.query(planQuery)).settings.prefill_extra_args, ['--max-num-seqs', '8']);
    });
  });

  it('an image change replaces every container, decode last with its outage measured; rollback restores the image', async () => {
    const fake = new FakeHosts();
    await withCluster(fake, async (handle) => {
      const next = seedPlan('2P1D', { DOCKER_IMAGE_ID: 'registry.local/omniinfer:next' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.equal(outcome.ok, true);
      assert.ok(outcome.decodeOutageMs !== undefined && outcome.decodeOutageMs >= 0);
      const containers = rolloutLog(fake).filter((l) => l.startsWith('ensureContainer'));
      // Prefill one instance at a time, then the decode instance's hosts together, the proxy last.
      assert.deepEqual(
        [...containers.slice(0, 2), ...containers.slice(2, 4).sort(), containers[4]],
        [
          'ensureContainer p0 registry.local/omniinfer:next',
          'ensureContainer p1 registry.local/omniinfer:next',
          'ensureContainer d0 registry.local/omniinfer:next',
          'ensureContainer d1 registry.local/omniinfer:next',
          'ensureContainer c0 registry.local/omniinfer:next',
        ],
      );
      const launches = rolloutLog(fake).filter((l) => l.startsWith('launchEngines'));
      assert.deepEqual(launches, [
        'launchEngines p0 (restart)',
        'launchEngines p1 (restart)',
        'launchEngines d0 (restart)',
        'launchEngines d1 (restart)',
      ]);

      fake.clear();
      const back = await handle.executeUpdate(rollbackUpdate);
      assert.equal(back.ok, true);
      assert.ok(
        rolloutLog(fake)
          .filter((l) => l.startsWith('ensureContainer'))
          .every((l) => l.endsWith('registry.local/omniinfer:test')),
      );
      assert.equal((await handle.query(planQuery)).settings.DOCKER_IMAGE_ID, 'registry.local/omniinfer:test');
    });
  });

  it('a failure stops the rollout with the rest still serving; retry continues it', async () => {
    const fake = new FakeHosts();
    await withCluster(fake, async (handle) => {
      fake.failing.set('launchEngines:p1', 'EngineLaunchFailed');
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 4' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.equal(outcome.ok, false);
      const waiting = await handle.query(statusQuery);
      assert.equal(waiting.stage, 'waiting-for-operator');
      assert.ok(rolloutLog(fake).includes('launchEngines p0 (restart)'), 'p0 was rolled before p1 failed');
      assert.ok(!rolloutLog(fake).some((l) => l.startsWith('launchEngines d')), 'decode was not reached');
      fake.failing.clear();
      await handle.executeUpdate(retryFailedUpdate);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.ok(rolloutLog(fake).includes('launchEngines p1 (restart)'));
    });
  });

  it('rollback while a rollout waits for the operator undoes it', async () => {
    const fake = new FakeHosts();
    await withCluster(fake, async (handle) => {
      fake.failing.set('launchEngines:p1', 'EngineLaunchFailed');
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 4' });
      await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      fake.failing.clear();
      const back = await handle.executeUpdate(rollbackUpdate);
      assert.equal(back.ok, true, JSON.stringify(back));
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.deepEqual(
        (await handle.query(planQuery)).settings.prefill_extra_args,
        plan.settings.prefill_extra_args,
      );
    });
  });
});
