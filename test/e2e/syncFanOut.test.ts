import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { hostExec, IMAGE_STORE, powerOffHost, rebootHost } from '../../sim';
import { closeActivityDeps, createActivities, createActivityDeps } from '../../src/activities';
import { cleanupInput, loadImagesInput } from '../../src/workflows/cluster/steps';
import { stateDir } from '../../src/shared/paths';
import { activityRuns, historyText, recordHistory, waitForStatus } from '../helpers/deploy';
import { makeCodeTree } from '../helpers/codeTree';
import { tinyImageArchive } from '../helpers/imageArchive';
import { useSimDeploy } from '../helpers/simDeploy';
import { waitFor } from '../helpers/waitFor';

/**
 * sync_code's fan-out on sim-4P1D (sim instance 36; issue 16): the executor copies a 30 MB tree to
 * two hosts, which relay it to the others over the hosts' own network. p0 — the first host to
 * relay — is powered off while its relayed copies run: the sync still completes, those hosts
 * get a direct copy, and no relay key is left on any host that is up (nor on p0 once clean_up
 * has run after it came back).
 */
const INSTANCE = 36;

describe('code sync fan-out on sim-4P1D', { timeout: 600_000 }, () => {
  const sim = useSimDeploy('sim-4P1D', INSTANCE, { devices: 1 });
  before(() => {
    makeCodeTree(sim.cluster.codeDir); // the 30 MB tree sync_code copies
  });

  const relayLeftovers = async (address: string) =>
    (
      await hostExec(
        address,
        [
          'sh',
          '-c',
          'grep -c "omni-deploy-relay:" /root/.ssh/authorized_keys; ls -A /root/.omni-deploy/relay 2>/dev/null; true',
        ],
        undefined,
        sim.cluster.ctx,
      )
    ).trim();

  it('completes when a relay host is powered off mid-copy, and leaves no relay key behind', async () => {
    const ctx = sim.cluster.ctx;
    const plan = sim.cluster.plan({ cluster_name: 'fanout', code_sync_fan_out: '2' });
    const p0 = plan.hosts.find((h) => h.name === 'p0')!;
    // p0 sends slowly (20 Mbit/s out of its own network): its relayed copies take seconds.
    await hostExec(
      p0.address,
      [
        'tc',
        'qdisc',
        'add',
        'dev',
        'eth0',
        'root',
        'tbf',
        'rate',
        '20mbit',
        'burst',
        '64kb',
        'latency',
        '500ms',
      ],
      undefined,
      ctx,
    );
    const handle = await sim.deploy(['run_docker', 'sync_code'], {}, plan);
    // Wait for p0's rsync to another host, then pull its plug.
    await waitFor(
      async () => {
        const ps = await hostExec(
          p0.address,
          ['sh', '-c', 'ps -eo args | grep "[o]mni-deploy/relay" || true'],
          undefined,
          ctx,
        );
        return ps.includes('rsync');
      },
      { timeout: 120_000, interval: 100, what: 'p0 to relay (an rsync of it to another host)' },
    );
    await powerOffHost('p0', ctx);
    execFileSync('ip', ['neigh', 'flush', 'to', p0.address, 'dev', ctx.bridge]);

    const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 240_000, 'the sync');
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    const targets = plan.hosts.filter((h) => h.role !== 'proxy');
    for (const h of targets) assert.equal(status.table[h.name]?.sync_code?.state, 'ok', h.name);

    const syncs = activityRuns(await handle.fetchHistory()).filter((r) => r.type === 'syncCode');
    const input = (r: (typeof syncs)[number]) =>
      r.input as { target: { name: string }; relay?: { source: { name: string } } };
    const fromP0 = syncs.filter((r) => input(r).relay?.source.name === 'p0');
    assert.ok(fromP0.length > 0, 'p0 relayed');
    for (const r of fromP0) {
      assert.equal(r.outcome, 'failed', `${input(r).target.name} from p0`);
      assert.equal(r.failureType, 'RelaySenderFailed');
      const to = input(r).target.name;
      assert.ok(
        syncs.some((x) => input(x).target.name === to && !input(x).relay && x.outcome === 'completed'),
        `${to} got a direct copy after p0 went down`,
      );
    }
    assert.ok(
      syncs.some((r) => input(r).relay && r.outcome === 'completed'),
      'other relays served hosts',
    );

    // Every host that is up has the whole tree, and nothing of the relay session.
    const expected = execFileSync('sh', [
      '-c',
      'cd "$1" && find . -type f | sort | xargs sha256sum | sha256sum',
      'tree',
      sim.cluster.codeDir,
    ]).toString();
    const codeDir = `${plan.settings.CODE_PATH}/omniinfer`;
    for (const h of targets.filter((h) => h.name !== 'p0')) {
      const got = await hostExec(
        h.address,
        [
          'sh',
          '-c',
          'cd "$1" && find . -type f ! -name .omni-deploy-installed | sort | xargs sha256sum | sha256sum',
          'tree',
          codeDir,
        ],
        undefined,
        ctx,
      );
      assert.equal(got, expected, `${h.name}'s tree`);
      assert.equal(await relayLeftovers(h.address), '0', `${h.name} holds no relay key`);
    }
    // The session's private key went from the executor's disk to the senders, never through Temporal.
    assert.doesNotMatch(historyText(await handle.fetchHistory()), /PRIVATE KEY/);
    await recordHistory(handle, 'deploy-sync-fan-out-relay-down');
    assert.equal(
      fs.existsSync(path.join(stateDir(), 'relay'))
        ? fs.readdirSync(path.join(stateDir(), 'relay')).length
        : 0,
      0,
      'the executor forgot the session key',
    );
    await handle.terminate();

    // p0 comes back with the session's folder in its home; clean_up removes it (by the cluster's mark).
    await rebootHost('p0', ctx);
    assert.match(await relayLeftovers(p0.address), /^0\nfanout@[a-z0-9]{12}$/);
    const cleanup = await sim.deploy(['clean_up'], {}, plan);
    const cleaned = await waitForStatus(cleanup, (s) => s.stage !== 'deploying', 120_000, 'clean_up');
    assert.equal(cleaned.stage, 'cleaned', JSON.stringify(cleaned.failures));
    assert.equal(await relayLeftovers(p0.address), '0');
  });

  it('copies an image archive to every machine, fanned out, and loads what a host is missing', async () => {
    const ctx = sim.cluster.ctx;
    const work = fs.mkdtempSync(path.join(path.dirname(path.dirname(sim.cluster.codeDir)), 'images-'));
    // The engine image as an archive (the hosts have it already, from the shared image store).
    const archive = path.join(work, 'engine.tar');
    execFileSync('podman', [
      '--root',
      IMAGE_STORE,
      'save',
      '--format',
      'docker-archive',
      '-o',
      archive,
      sim.cluster.sim.images.engine,
    ]);
    const plan = sim.cluster.plan({ cluster_name: 'images', image_archive: archive });
    const handle = await sim.deploy(['preflight', 'run_docker'], {}, plan);
    const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 300_000, 'run_docker');
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    const runs = activityRuns(await handle.fetchHistory());
    const copies = runs.filter((r) => r.type === 'copyImageArchive');
    const machines = plan.hosts.filter((h) => h.role !== 'proxy');
    assert.equal(copies.length, machines.length, 'one copy per machine (c0 shares p0)');
    assert.ok(
      copies.some((r) => (r.input as { relay?: unknown }).relay),
      'hosts relayed the archive',
    );
    assert.equal(runs.filter((r) => r.type === 'loadImages').length, plan.hosts.length);
    const sha = (text: string) => text.split(' ')[0];
    const expected = sha(execFileSync('sha256sum', [archive]).toString());
    for (const h of machines) {
      const got = await hostExec(
        h.address,
        ['sha256sum', `${plan.settings.CODE_PATH}/omni-deploy-images/engine.tar`],
        undefined,
        ctx,
      );
      assert.equal(sha(got), expected, `${h.name}'s archive`);
    }
    await recordHistory(handle, 'deploy-image-archive-fan-out');
    await handle.terminate();

    // deploy down keeps the archive by default; with image_archive_on_down: remove, clean_up takes
    // it (and its folder) off the host.
    const archiveOn = (h: string) =>
      hostExec(
        h,
        ['sh', '-c', `ls ${plan.settings.CODE_PATH}/omni-deploy-images 2>/dev/null || echo gone`],
        undefined,
        ctx,
      );
    assert.equal(cleanupInput(plan, 'p1').files, undefined);
    const removing = sim.cluster.plan({
      cluster_name: 'images',
      image_archive: archive,
      image_archive_on_down: 'remove',
    });
    const cleanupDeps = createActivityDeps();
    try {
      const cleaned = (await new MockActivityEnvironment().run(
        createActivities(cleanupDeps).cleanupHost,
        cleanupInput(removing, 'p1'),
      )) as { removedFiles: number };
      assert.ok(cleaned.removedFiles >= 1, JSON.stringify(cleaned));
    } finally {
      await closeActivityDeps(cleanupDeps);
    }
    assert.equal((await archiveOn('p1')).trim(), 'gone');
    assert.equal((await archiveOn('d0')).trim(), 'engine.tar', 'other hosts keep theirs');

    // A host missing an image: loadImages loads the archive's, and names an image it lacks.
    const tiny = path.join(work, 'tiny.tar');
    tinyImageArchive(tiny, 'localhost/omni-archive-test:1');
    const d0 = plan.hosts.find((h) => h.name === 'd0')!;
    const dir = '/data/images-e2e';
    await hostExec(
      d0.address,
      ['sh', '-c', `mkdir -p ${dir} && base64 -d > ${dir}/tiny.tar`],
      fs.readFileSync(tiny).toString('base64'),
      ctx,
    );
    const deps = createActivityDeps();
    try {
      const input = {
        ...loadImagesInput(plan, 'd0'),
        images: ['localhost/omni-archive-test:1'],
        archive: `${dir}/tiny.tar`,
      };
      const activities = createActivities(deps);
      assert.deepEqual(await new MockActivityEnvironment().run(activities.loadImages, input), {
        loaded: true,
      });
      assert.deepEqual(await new MockActivityEnvironment().run(activities.loadImages, input), {
        loaded: false,
      });
      await assert.rejects(
        new MockActivityEnvironment().run(activities.loadImages, {
          ...input,
          images: ['localhost/not-in-it:1'],
        }),
        /localhost\/not-in-it:1 not in the image archive \/data\/images-e2e\/tiny\.tar on d0/,
      );
    } finally {
      await closeActivityDeps(deps);
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
