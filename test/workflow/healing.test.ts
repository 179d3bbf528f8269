import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import type { WatchHealthInput } from '../../src/activities/types';
import { observationSignature, type HostObservation } from '../../src/shared/observation';
import { deployCluster } from '../../src/workflows';
import {
  eventsQuery,
  retryFailedUpdate,
  setHealingUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import { type DeployOptions, type HealthOptions } from '../../src/workflows/cluster/types';
import { recordHistory, waitForStatus } from '../helpers/deploy';
import { seedPlan } from '../helpers/plans';
import { mockedOptions, startTestServer, withMockedWorker } from '../helpers/temporal';

/**
 * A pretend cluster behind mocked activities: the watch reports what `hosts` say, and a repair
 * (launching the engines of a unit again) makes that unit's hosts healthy — unless a host is
 * unreachable, when every step on it fails as a lost connection would.
 */
class FakeCluster {
  readonly hosts = new Map<
    string,
    { reachable: boolean; healthy: boolean; container: HostObservation['container'] }
  >();
  launches: string[] = [];
  proxyReloads: string[][] = [];

  constructor(names: string[]) {
    for (const h of names) this.hosts.set(h, { reachable: true, healthy: true, container: 'running' });
  }

  private observe(input: WatchHealthInput): HostObservation[] {
    return input.hosts.map((h) => {
      const s = this.hosts.get(h.target.name)!;
      return {
        host: h.target.name,
        reachable: s.reachable,
        ...(s.reachable ? {} : { error: 'cannot reach host: SSH handshake timed out' }),
        container: s.reachable ? s.container : 'unknown',
        servers: h.servers.map((x) => ({ ...x, healthy: s.reachable && s.healthy })),
        ...(h.proxyPort !== undefined && { proxy: s.reachable ? ('ok' as const) : ('unreachable' as const) }),
      };
    });
  }

  private step(host: string): void {
    if (!this.hosts.get(host)!.reachable) {
      throw ApplicationFailure.create({ type: 'ConnectionError', message: `cannot reach ${host} over SSH` });
    }
  }

  activities(): Partial<Activities> {
    return {
      watchHealth: async (input) => {
        const started = Date.now();
        for (let rounds = 1; ; rounds++) {
          const observations = this.observe(input);
          const signature = observationSignature(observations);
          const changed = signature !== input.known;
          if (changed || Date.now() - started > input.maxWatchMs) {
            return { observations, signature, observedAt: Date.now(), rounds, changed };
          }
          await new Promise((r) => setTimeout(r, input.intervalMs));
        }
      },
      ensureContainer: async (i) => {
        this.step(i.target.name);
        const h = this.hosts.get(i.target.name)!;
        const action = h.container === 'running' ? 'kept' : 'started';
        h.container = 'running';
        return { action, id: `id-${i.name}` };
      },
      syncCode: async (i) => (this.step(i.target.name), { changed: false, bytesSent: 0, installed: false }),
      endRelaySession: async () => ({ cleaned: 0, unreachable: [] }),
      launchEngines: async (i) => {
        this.step(i.target.name);
        this.launches.push(i.target.name);
        this.hosts.get(i.target.name)!.healthy = true;
        return { action: i.force ? 'restarted' : 'started', servers: [] };
      },
      awaitEnginesReady: async (i) => (this.step(i.target.name), { servers: 1, waitedMs: 1 }),
      ensureProxy: async (i) => {
        this.proxyReloads.push([...(i.conf.match(/server \S+ [^;]*down/g) ?? [])]);
        return { action: 'reloaded' };
      },
    };
  }
}

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

  async function run<T>(fake: FakeCluster, health: Partial<HealthOptions>, fn: (h: Handle) => Promise<T>) {
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

  it('reports a lost decode host within one round, repairs the whole decode instance when it returns', async () => {
    const fake = new FakeCluster(plan.hosts.map((h) => h.name));
    await run(fake, { healAttempts: 6, healBackoffMs: [400] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.launches = [];
      fake.hosts.get('d1')!.reachable = false;
      const down = await waitForStatus(handle, (s) => s.health?.state === 'down');
      const decode = down.health!.units.find((u) => u.unit === 'decode-0')!;
      assert.equal(decode.state, 'down');
      assert.equal(decode.hosts.find((h) => h.host === 'd1')?.condition, 'unreachable');
      assert.match(decode.cause!, /d1 cannot reach host: SSH handshake timed out/);

      // Attempts fail while d1 is away; it comes back and the next attempt repairs the unit.
      await waitForStatus(handle, (s) => (s.operation?.what ?? '').includes('attempt 2'));
      fake.hosts.get('d1')!.reachable = true;
      fake.hosts.get('d1')!.healthy = false;
      const healed = await waitForStatus(
        handle,
        (s) => s.stage === 'ready' && s.health?.state === 'serving',
        30_000,
      );
      assert.deepEqual(healed.queued, []);
      assert.deepEqual(
        [...new Set(fake.launches)],
        ['d0', 'd1'],
        'the whole data-parallel group was relaunched, master first; prefill untouched',
      );
      const events = await handle.query(eventsQuery);
      const kinds = events.map((e) => `${e.kind}:${e.unit ?? ''}:${e.result ?? ''}`);
      assert.ok(kinds.includes('health:decode-0:'), kinds.join(' '));
      assert.ok(kinds.includes('heal:decode-0:started'));
      assert.ok(kinds.includes('heal:decode-0:failed'));
      assert.ok(kinds.includes('heal:decode-0:ok'));
      // The proxy was told to drain the broken instance during the repair.
      assert.ok(
        fake.proxyReloads.some((r) => r.length > 0),
        JSON.stringify(fake.proxyReloads),
      );
      await recordHistory(handle, 'deploy-heal-decode-host-returns');
    });
  });

  it('repairs exhausted: waits for the operator with the cause; deploy retry repairs the unit', async () => {
    const fake = new FakeCluster(plan.hosts.map((h) => h.name));
    await run(fake, { healAttempts: 2, healBackoffMs: [200] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.hosts.get('p1')!.reachable = false;
      const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator', 30_000);
      assert.ok(
        waiting.failures.some((f) => f.host === 'p1' && f.type === 'ConnectionError'),
        JSON.stringify(waiting.failures),
      );
      const events = await handle.query(eventsQuery);
      assert.ok(events.some((e) => e.unit === 'prefill-1' && e.result === 'exhausted'));

      fake.hosts.get('p1')!.reachable = true;
      const outcome = await handle.executeUpdate(retryFailedUpdate);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      await waitForStatus(handle, (s) => s.stage === 'ready' && s.health?.state === 'serving', 30_000);
      await recordHistory(handle, 'deploy-heal-exhausted-then-retry');
    });
  });

  it('with healing off the watch only reports; turning it on repairs', async () => {
    const fake = new FakeCluster(plan.hosts.map((h) => h.name));
    await run(fake, {}, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      assert.deepEqual(await handle.executeUpdate(setHealingUpdate, { args: [{ enabled: false }] }), {
        healing: 'off',
      });
      fake.launches = [];
      fake.hosts.get('p0')!.container = 'stopped';
      const down = await waitForStatus(
        handle,
        (s) => s.health?.units.some((u) => u.unit === 'prefill-0' && u.state === 'down') === true,
      );
      assert.equal(
        down.health!.units.find((u) => u.unit === 'prefill-0')!.hosts[0]!.condition,
        'container-stopped',
      );
      await new Promise((r) => setTimeout(r, 1500));
      assert.deepEqual(fake.launches, [], 'nothing repaired while healing is off');
      assert.equal((await handle.query(statusQuery)).stage, 'ready');

      await handle.executeUpdate(setHealingUpdate, { args: [{ enabled: true }] });
      await waitForStatus(handle, (s) => s.stage === 'ready' && s.health?.state === 'serving', 30_000);
      assert.equal(fake.hosts.get('p0')!.container, 'running', 'the stopped container was started');
      assert.deepEqual(fake.launches, ['p0']);
    });
  });
});
