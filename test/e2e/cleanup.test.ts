import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import {
  closeActivityDeps,
  createActivities,
  createActivityDeps,
  type ActivityDeps,
} from '../../src/activities';
import { preflightInput } from '../../src/workflows/cluster/steps';
import type { PreflightCheck } from '../../src/activities/types';
import { selectPhases } from '../../src/shared/phases';
import { allContainers, ssh, waitForStatus } from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

const INSTANCE = 50;
/** The tool's record on a host where something it made is still in use. */
const MANIFEST = [
  '/root/.omni-deploy',
  '/root/.omni-deploy/clusters',
  '/root/.omni-deploy/clusters/sim-2p1d-i50.manifest',
  '/root/.omni-deploy/clusters/sim-2p1d-i50.manifest.lock',
];
/** What `deploy start` runs without tags. */
const DEPLOY_PHASES = selectPhases();

/**
 * `deploy down` removes what the tool made and nothing else (sim-2P1D on instance 50): files the
 * operator put beside and inside the managed folders survive, a planted symbolic link is not
 * followed, and a host where the tool created the managed folders is left as it was found.
 */
describe('cleanup removes exactly what the tool made', () => {
  // LOG_PATH in a folder that does not exist yet: preflight measures its nearest parent.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { extraVars: { LOG_PATH: '/data/fresh/omni/log_path' } });
  /** For the activity this test calls itself, outside any worker. */
  let deps: ActivityDeps;
  const addr = (host: string) => sim.plan.hosts.find((h) => h.name === host)!.address;
  const on = (host: string, script: string) => ssh(sim.cluster.ctx, addr(host), script);
  /** `find` listing of the managed folders and the tool's state folder on a host, sorted. */
  const listing = (host: string) =>
    on(
      host,
      'for d in /tmp/scripts_path /tmp/ranktable_save_path /root/.omni-deploy; do [ -e "$d" ] && find "$d"; done | sort; true',
    ).then((o) => o.split('\n').filter(Boolean));

  before(() => {
    deps = createActivityDeps();
    sim.onTeardown(() => closeActivityDeps(deps));
  });

  it('preflight measures free space where a missing LOG_PATH will be created', async () => {
    const checks: PreflightCheck[] = await new MockActivityEnvironment().run(
      createActivities(deps).preflight,
      preflightInput(sim.plan, 'd0'),
    );
    const disk = checks.find((c) => c.check === 'disk')!;
    assert.ok(disk.ok, disk.detail);
    assert.match(
      disk.detail,
      /^\d+(\.\d)? (GiB|MiB) free on \/data \(where \/data\/fresh\/omni\/log_path will be created\)$/,
    );
  });

  it('deploys, then `down` leaves the operator’s files and removes everything the tool made', async () => {
    // Before the deploy, on p0 (and c0, same machine): the managed folders exist with the
    // operator's files in them, and a file sits beside them.
    await on(
      'p0',
      'mkdir -p /tmp/scripts_path /tmp/ranktable_save_path && echo mine > /tmp/scripts_path/operator.txt && ' +
        'echo "{}" > /tmp/ranktable_save_path/operator-ranktable.json && echo beside > /tmp/beside.txt',
    );
    const handle = await sim.deploy(DEPLOY_PHASES);
    const ready = await waitForStatus(
      handle,
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
      240_000,
    );
    assert.equal(ready.stage, 'ready', JSON.stringify(ready.failures));

    // After it: an operator file inside a folder the tool made (d0), and a symbolic link planted
    // inside a managed folder that leads to a folder of precious files (p1).
    await on('d0', 'echo mine > /tmp/scripts_path/run/d0/operator-inside.txt');
    await on(
      'p1',
      'mkdir -p /srv/precious && echo keep > /srv/precious/data.txt && ln -s /srv/precious /tmp/scripts_path/evil',
    );
    const before = Object.fromEntries(
      await Promise.all(['p0', 'p1', 'd0', 'd1'].map(async (h) => [h, await listing(h)])),
    );
    assert.ok(before.d1.includes('/tmp/scripts_path/run_server_d1.sh'), before.d1.join('\n'));
    assert.ok(before.d1.some((f: string) => f.startsWith('/tmp/ranktable_save_path/global/')));
    assert.ok(
      before.p0.some((f: string) => f.startsWith('/tmp/scripts_path/proxy_c0/')),
      'proxy config',
    );

    await handle.cancel();
    await assert.rejects(handle.result());
    const status = await waitForStatus(handle, (s) => s.stage === 'cleaned', 120_000);
    for (const h of sim.plan.hosts) assert.equal(status.table[h.name]?.clean_up?.state, 'ok', h.name);
    assert.deepEqual(await allContainers(sim.cluster.ctx, sim.plan), [], 'no container left');

    // d1: the tool created both managed folders; nothing of anybody else was there.
    assert.deepEqual(await listing('d1'), [], 'd1 is left as it was found');
    // p0 (+ c0): the operator's folders and files stay; nothing of the tool's.
    assert.deepEqual(await listing('p0'), [
      '/tmp/ranktable_save_path',
      '/tmp/ranktable_save_path/operator-ranktable.json',
      '/tmp/scripts_path',
      '/tmp/scripts_path/operator.txt',
    ]);
    assert.equal((await on('p0', 'cat /tmp/beside.txt')).trim(), 'beside');
    // d0: the tool's folder that holds the operator's file stays, with only that file.
    assert.deepEqual(await listing('d0'), [
      ...MANIFEST,
      '/tmp/scripts_path',
      '/tmp/scripts_path/run',
      '/tmp/scripts_path/run/d0',
      '/tmp/scripts_path/run/d0/operator-inside.txt',
    ]);
    // p1: the link is not ours and was not followed; the folder the tool made holds it, so the
    // folder and its manifest entry stay.
    assert.equal((await on('p1', 'cat /srv/precious/data.txt')).trim(), 'keep');
    assert.deepEqual(await listing('p1'), [...MANIFEST, '/tmp/scripts_path', '/tmp/scripts_path/evil']);
    // Logs are kept, as the seed's clean_up keeps them.
    assert.match(await on('d0', 'ls /data/fresh/omni/log_path'), /server_0\.log/);
  });
});
