import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { planFromFile } from '../../src/client/planFile';
import type { Plan } from '../../src/plan/types';
import type { Phase } from '../../src/shared/phases';
import { deployCluster } from '../../src/workflows';
import { bigInventory } from '../helpers/bigInventory';
import { waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { mockedOptions, startTestServer, withMockedWorker } from '../helpers/temporal';

/** Every copy (code or image archive) as the hosts saw it, in the order they started. */
const copies = (fake: FakeHosts) =>
  fake.record.filter((c) => c.activity === 'syncCode' || c.activity === 'copyImageArchive');

/** 16 single-host prefill instances, decode over 4: 20 hosts, the proxy on p0's machine. */
function planOf(extra: Record<string, string> = {}): Plan {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-fanout-'));
  const file = path.join(dir, 'fanout.yml');
  fs.writeFileSync(
    file,
    bigInventory({ prefillInstances: 16, hostsPerPrefill: 1, decodeHosts: 4, devices: 1 }),
  );
  try {
    return planFromFile(file, extra);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * sync_code's fan-out through the real cluster workflow (issue 16): with mocked copies, every
 * host gets the tree once, from the executor or a host that had it by then; the executor makes
 * a few of the copies; failed relays fall back to the executor; the session always ends.
 */
describe('sync_code fan-out with mocked copies', () => {
  let env: TestWorkflowEnvironment;
  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** The cluster workflow over `plan` with a worker of `fake`'s activities; `fn` gets its handle. */
  async function withDeploy<T>(
    fake: FakeHosts,
    plan: Plan,
    phases: Phase[],
    fn: (handle: WorkflowHandle<typeof deployCluster>) => Promise<T>,
  ): Promise<T> {
    return withMockedWorker(env, fake.activities(), 'fanout', async (taskQueue) =>
      fn(
        await env.client.workflow.start(deployCluster, {
          taskQueue,
          workflowId: `cluster/${randomUUID()}`,
          args: [{ plan, options: mockedOptions(taskQueue, phases) }],
        }),
      ),
    );
  }

  /** Deploys `phases` until the stage is `until`; the status then. */
  function deploy(
    fake: FakeHosts,
    plan: Plan,
    until: 'ready' | 'waiting-for-operator' = 'ready',
    phases: Phase[] = ['sync_code'],
  ) {
    return withDeploy(fake, plan, phases, async (handle) => {
      const status = await waitForStatus(handle, (s) => s.stage === until, 60_000);
      await handle.terminate();
      return status;
    });
  }

  /** Each copy's sender had the tree when the copy started: it was the executor or received before. */
  function assertCausal(fake: FakeHosts, failedRelays: Set<string> = new Set()): void {
    const holders = new Set<string>();
    const ok = copies(fake).filter((c) => !failedRelays.has(`${c.from}>${c.host}`));
    for (const c of copies(fake)) {
      if (c.from !== 'executor')
        assert.ok(holders.has(c.from!), `${c.from} relayed to ${c.host} before it had the tree`);
      if (ok.includes(c)) holders.add(c.host);
    }
  }

  it('copies to every host once, the executor to few of them, and ends the session', async () => {
    const fake = new FakeHosts();
    const plan = planOf();
    const targets = plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);
    const status = await deploy(fake, plan);
    for (const h of targets) assert.equal(status.table[h]?.sync_code?.state, 'ok', h);
    assert.deepEqual(
      copies(fake)
        .map((c) => c.host)
        .sort(),
      [...targets].sort(),
      'each host once',
    );
    assertCausal(fake);
    const direct = copies(fake).filter((c) => c.from === 'executor');
    // Waves with 2 executor slots: 2 copies per wave, and 20 hosts are done in 3 waves (2, 8, 20).
    assert.equal(direct.length, 6, JSON.stringify(copies(fake)));
    assert.match(
      status.table[copies(fake).find((c) => c.from !== 'executor')!.host]!.sync_code!.note!,
      /from \w+/,
    );
    // One session, named for the cluster, ended once with every sender and receiver it touched.
    const sessions = new Set(copies(fake).flatMap((c) => (c.session ? [c.session] : [])));
    assert.equal(sessions.size, 1);
    const [session] = sessions;
    assert.match(session!, new RegExp(`^${plan.cluster}@[a-z0-9]{12}$`));
    assert.equal(fake.count('endRelaySession'), 1);
    const [ended] = fake.calls('endRelaySession');
    const relayed = copies(fake).filter((c) => c.from !== 'executor');
    assert.deepEqual([...ended!.senders!].sort(), [...new Set(relayed.map((c) => c.from))].sort());
    assert.deepEqual([...ended!.receivers!].sort(), relayed.map((c) => c.host).sort());
  });

  it('gives a dead relay’s receivers a direct copy and never asks that relay again', async () => {
    const fake = new FakeHosts();
    const plan = planOf();
    // The first host the executor serves relays in the second wave: make it the dead one.
    fake.deadRelays.add(plan.hosts[0]!.name);
    const status = await deploy(fake, plan);
    const dead = plan.hosts[0]!.name;
    const fromDead = copies(fake).filter((c) => c.from === dead);
    assert.equal(fromDead.length, 2, 'it was asked once, for one wave of two copies');
    for (const c of fromDead) {
      assert.equal(status.table[c.host]?.sync_code?.state, 'ok', `${c.host} got its copy another way`);
      assert.ok(
        copies(fake).some((x) => x.host === c.host && x.from === 'executor'),
        `${c.host} got a direct copy after the relay failed`,
      );
    }
    assertCausal(fake, new Set(fromDead.map((c) => `${c.from}>${c.host}`)));
    assert.equal(fake.count('endRelaySession'), 1);
  });

  it('serves a host that refused a relayed copy directly, and keeps the relay', async () => {
    const fake = new FakeHosts();
    const plan = planOf();
    // p4 is the first host a relay serves (wave 2, from p0).
    const target = plan.hosts[4]!.name;
    fake.refuseRelayed.add(target);
    const status = await deploy(fake, plan);
    assert.equal(status.table[target]?.sync_code?.state, 'ok');
    const toTarget = copies(fake)
      .filter((c) => c.host === target)
      .map((c) => c.from);
    assert.equal(toTarget.length, 2, JSON.stringify(toTarget));
    assert.equal(toTarget[1], 'executor');
    // Its relay went on relaying: a receiver's failure does not count against the sender.
    const relay = toTarget[0]!;
    assert.ok(copies(fake).filter((c) => c.from === relay).length >= 3, `${relay} relayed again`);
  });

  it('fails the phase on a host whose direct copy fails, and still ends the session', async () => {
    const fake = new FakeHosts();
    const plan = planOf();
    const bad = plan.hosts[1]!.name;
    fake.failing.set(`syncCode:${bad}`, 'TransferError');
    const status = await deploy(fake, plan, 'waiting-for-operator');
    assert.deepEqual(
      status.failures.map((f) => [f.host, f.phase, f.type]),
      [[bad, 'sync_code', 'TransferError']],
    );
    for (const h of plan.hosts.filter((h) => h.role !== 'proxy' && h.name !== bad)) {
      assert.equal(status.table[h.name]?.sync_code?.state, 'running', `${h.name} done, at the barrier`);
    }
    assert.equal(fake.count('endRelaySession'), 1);
  });

  it('ends the session when the deploy is cancelled mid-copy', async () => {
    const fake = new FakeHosts();
    const open = fake.hold((c) => c.from !== undefined && c.from !== 'executor');
    await withDeploy(fake, planOf(), ['sync_code'], async (handle) => {
      // The first relayed copies are held in flight; cancel then.
      await waitForStatus(handle, () => copies(fake).some((c) => c.from !== 'executor'));
      await handle.cancel();
      open();
      await handle.result().catch(() => undefined);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
    });
    assert.equal(fake.count('endRelaySession'), 1, 'the session ended although the deploy was cancelled');
    assert.ok(fake.calls('endRelaySession')[0]!.receivers!.length > 0);
  });

  it('copies from the executor only with code_sync_fan_out=0, as the seed does', async () => {
    const fake = new FakeHosts();
    await deploy(fake, planOf({ code_sync_fan_out: '0' }));
    assert.equal(copies(fake).length, 20);
    assert.ok(copies(fake).every((c) => c.from === 'executor'));
    assert.equal(fake.count('endRelaySession'), 0, 'no session, nothing to end');
  });

  it('fans an image archive out to every machine, loads it on every host, then starts containers', async () => {
    const fake = new FakeHosts();
    const plan = planOf({ image_archive: '/srv/images/omniinfer.tar' });
    const status = await deploy(fake, plan, 'ready', ['run_docker']);
    const machines = plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);
    assert.deepEqual(
      copies(fake)
        .map((c) => c.host)
        .sort(),
      [...machines].sort(),
      'each machine once (c0 shares p0)',
    );
    assertCausal(fake);
    assert.equal(
      copies(fake).filter((c) => c.from === 'executor').length,
      6,
      'as the code: the executor 6 of 20',
    );
    assert.equal(fake.count('endRelaySession'), 1);
    assert.deepEqual(
      fake.hosts('loadImages').sort(),
      plan.hosts.map((h) => h.name).sort(),
      'loaded on every host',
    );
    assert.equal(fake.count('ensureContainer'), plan.hosts.length);
    for (const h of plan.hosts) assert.equal(status.table[h.name]?.run_docker?.state, 'ok', h.name);
  });
});
