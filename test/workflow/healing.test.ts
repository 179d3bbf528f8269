import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { deployCluster } from '../../src/workflows';
import {
  eventsQuery,
  retryFailedUpdate,
  setHealingUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import { type DeployOptions, type HealthOptions } from '../../src/workflows/cluster/types';
import { recordHistory, waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { seedPlan } from '../helpers/plans';
import { mockedOptions, startTestServer, withMockedWorker } from '../helpers/temporal';

describe('health watch and self-healing (mocked hosts, real Temporal)', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  function options(taskQueue: string, health: Partial<HealthOptions> = {}): DeployOptions {
    return mockedOptions(taskQueue, ['run_server'], {
      health: {
        intervalMs: 100,
        probeTimeoutMs: 1000,
        maxWatchMs: 60_000,
        heal: true,
        healAttempts: 3,
        healBackoffMs: [300],
        ...health,
      },
    });
  }

  async function run<T>(fake: FakeHosts, health: Partial<HealthOptions>, fn: (h: Handle) => Promise<T>) {
    return withMockedWorker(env, fake.activities(), 'heal', async (taskQueue) => {
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${randomUUID()}`,
        args: [{ plan, options: options(taskQueue, health) }],
      });
      try {
        return await fn(handle);
      } finally {
        await handle.terminate().catch(() => undefined);
      }
    });
  }
  type Handle = Awaited<ReturnType<typeof env.client.workflow.start<typeof deployCluster>>>;

  it('reports a lost decode host within one round; the repair waits for it, spending no attempt, and repairs the instance when it returns', async () => {
    const fake = new FakeHosts();
    // A budget of 2 attempts 200 ms apart: the host stays away far longer than that.
    await run(fake, { healAttempts: 2, healBackoffMs: [200] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.clear();
      fake.host('d1').reachable = false;
      const down = await waitForStatus(handle, (s) => s.health?.state === 'down');
      const decode = down.health!.units.find((u) => u.unit === 'decode-0')!;
      assert.equal(decode.state, 'down');
      assert.equal(decode.hosts.find((h) => h.host === 'd1')?.condition, 'unreachable');
      assert.match(decode.cause!, /d1 cannot reach host: SSH handshake timed out/);

      const waiting = await waitForStatus(handle, (s) =>
        (s.operation?.what ?? '').includes('waiting for d1 to answer'),
      );
      assert.equal(waiting.stage, 'healing');
      // Far longer than the attempt budget (2 attempts, 200 ms): still waiting, not exhausted.
      await new Promise((r) => setTimeout(r, 3000));
      const still = await handle.query(statusQuery);
      assert.equal(still.stage, 'healing', JSON.stringify(still.failures));
      assert.match(still.operation?.what ?? '', /waiting for d1 to answer/);

      fake.host('d1').reachable = true;
      fake.host('d1').healthy = false;
      const healed = await waitForStatus(
        handle,
        (s) => s.stage === 'ready' && s.health?.state === 'serving',
        30_000,
      );
      assert.deepEqual(healed.queued, []);
      assert.deepEqual(
        [...new Set(fake.hosts('launchEngines'))],
        ['d0', 'd1'],
        'the whole data-parallel group was relaunched, master first; prefill untouched',
      );
      assert.ok(fake.count('awaitHostAnswers', 'd1') > 0, 'the repair waited for d1');
      const events = await handle.query(eventsQuery);
      const kinds = events.map((e) => `${e.kind}:${e.unit ?? ''}:${e.result ?? ''}`);
      assert.ok(kinds.includes('health:decode-0:'), kinds.join(' '));
      assert.ok(kinds.includes('heal:decode-0:started'));
      assert.ok(kinds.includes('heal:decode-0:waiting'), kinds.join(' '));
      assert.ok(kinds.includes('heal:decode-0:ok'));
      assert.ok(
        !kinds.includes('heal:decode-0:failed'),
        `no attempt spent on a host that was away: ${kinds.join(' ')}`,
      );
      assert.ok(!kinds.includes('heal:decode-0:exhausted'));
      const wait = events.find((e) => e.result === 'waiting')!;
      assert.match(
        wait.message,
        /waits for d1 to answer \(d1 · \w+: ConnectionError: cannot reach d1 \(127\.0\.0\.4\) over SSH: SSH handshake timed out\); no attempt spent/,
      );
      assert.ok(events.some((e) => /d1 answer again after \d+ s; repairing decode-0/.test(e.message)));
      // The proxy was told to drain the broken instance during the repair.
      assert.ok(
        fake.calls('ensureProxy').some((c) => c.drained!.length > 0),
        fake.log((c) => c.activity === 'ensureProxy').join('; '),
      );
      await recordHistory(handle, 'deploy-heal-waits-for-decode-host');
    });
  });

  it('repairs exhausted on a cause a wait cannot fix: every attempt names it; deploy retry repairs the unit', async () => {
    const fake = new FakeHosts();
    await run(fake, { healAttempts: 2, healBackoffMs: [200] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.brokenContainers.add('p1');
      fake.host('p1').container = 'stopped';
      const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator', 30_000);
      assert.ok(
        waiting.failures.some((f) => f.host === 'p1' && f.type === 'CommandError'),
        JSON.stringify(waiting.failures),
      );
      const events = await handle.query(eventsQuery);
      const failed = events.filter((e) => e.unit === 'prefill-1' && e.result === 'failed');
      assert.equal(failed.length, 2, 'both attempts told');
      for (const e of failed) {
        assert.match(
          e.message,
          /failed \(p1 · run_docker: CommandError: docker start \S+ failed: OCI runtime error\)/,
        );
      }
      assert.ok(events.some((e) => e.unit === 'prefill-1' && e.result === 'exhausted'));
      assert.ok(!events.some((e) => e.result === 'waiting'), 'nothing to wait for');

      fake.brokenContainers.delete('p1');
      const outcome = await handle.executeUpdate(retryFailedUpdate);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      await waitForStatus(handle, (s) => s.stage === 'ready' && s.health?.state === 'serving', 30_000);
    });
  });

  it('with healing off the watch only reports; turning it on repairs', async () => {
    const fake = new FakeHosts();
    await run(fake, {}, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      assert.deepEqual(await handle.executeUpdate(setHealingUpdate, { args: [{ enabled: false }] }), {
        healing: 'off',
      });
      fake.clear();
      fake.host('p0').container = 'stopped';
      const down = await waitForStatus(
        handle,
        (s) => s.health?.units.some((u) => u.unit === 'prefill-0' && u.state === 'down') === true,
      );
      assert.equal(
        down.health!.units.find((u) => u.unit === 'prefill-0')!.hosts[0]!.condition,
        'container-stopped',
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(fake.hosts('launchEngines'), [], 'nothing repaired while healing is off');
      assert.equal((await handle.query(statusQuery)).stage, 'ready');

      await handle.executeUpdate(setHealingUpdate, { args: [{ enabled: true }] });
      await waitForStatus(handle, (s) => s.stage === 'ready' && s.health?.state === 'serving', 30_000);
      assert.equal(fake.host('p0').container, 'running', 'the stopped container was started');
      assert.deepEqual(fake.hosts('launchEngines'), ['p0']);
    });
  });
});
