import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { sleep } from '@temporalio/activity';
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
  /** Hosts whose container cannot be started (a cause no wait fixes). */
  broken = new Set<string>();
  /** awaitHostAnswers calls, by host. */
  waits: string[] = [];

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
          // Rejects when the activity is cancelled (the test ends its workflow, the worker stops),
          // so a test does not wait out maxWatchMs.
          await sleep(input.intervalMs);
        }
      },
      ensureContainer: async (i) => {
        this.step(i.target.name);
        if (this.broken.has(i.target.name)) {
          throw ApplicationFailure.create({
            type: 'CommandError',
            message: `docker start ${i.name} failed: OCI runtime error`,
          });
        }
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
      awaitHostAnswers: async (i) => {
        this.waits.push(i.target.name);
        const started = Date.now();
        for (let tries = 1; ; tries++) {
          if (this.hosts.get(i.target.name)!.reachable) return { waitedMs: Date.now() - started, tries };
          await sleep(50);
        }
      },
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

  it('reports a lost decode host within one round; the repair waits for it, spending no attempt, and repairs the instance when it returns', async () => {
    const fake = new FakeCluster(plan.hosts.map((h) => h.name));
    // A budget of 2 attempts 200 ms apart: the host stays away far longer than that.
    await run(fake, { healAttempts: 2, healBackoffMs: [200] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.launches = [];
      fake.hosts.get('d1')!.reachable = false;
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
      assert.ok(fake.waits.includes('d1'), 'the repair waited for d1');
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
        /waits for d1 to answer \(d1 · \w+: ConnectionError: cannot reach d1 over SSH\); no attempt spent/,
      );
      assert.ok(events.some((e) => /d1 answer again after \d+ s; repairing decode-0/.test(e.message)));
      // The proxy was told to drain the broken instance during the repair.
      assert.ok(
        fake.proxyReloads.some((r) => r.length > 0),
        JSON.stringify(fake.proxyReloads),
      );
      await recordHistory(handle, 'deploy-heal-waits-for-decode-host');
    });
  });

  it('repairs exhausted on a cause a wait cannot fix: every attempt names it; deploy retry repairs the unit', async () => {
    const fake = new FakeCluster(plan.hosts.map((h) => h.name));
    await run(fake, { healAttempts: 2, healBackoffMs: [200] }, async (handle) => {
      await waitForStatus(handle, (s) => s.health?.state === 'serving');
      fake.broken.add('p1');
      fake.hosts.get('p1')!.container = 'stopped';
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

      fake.broken.delete('p1');
      const outcome = await handle.executeUpdate(retryFailedUpdate);
      assert.equal(outcome.ok, true, JSON.stringify(outcome));
      await waitForStatus(handle, (s) => s.stage === 'ready' && s.health?.state === 'serving', 30_000);
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
