// runner: group=demo-defaults lanes=2 (both use the dev server on 127.0.0.1:7233, sim instance 0 and .state; this one deploys twice from fresh copies)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../../src/shared/paths';
import { defaultDevServerOptions, probeAddress } from '../../src/temporal/devServer';
import { runDeploy } from '../helpers/cli';

/**
 * The README's first command from checkouts where a newcomer may clone: under /root, and under a
 * path with a space in /srv. Both folders are private on every simulated host, so the hosts' disks
 * (inside the checkout's .state) were once hidden by the hosts' own mounts. Each checkout is a copy
 * of this working tree (tracked and untracked files, no .state) with node_modules and .tools
 * linked, as `git clone … && scripts/setup.sh` would leave it.
 *
 * `bin/deploy demo` uses the operator's defaults (dev server 127.0.0.1:7233, sim instance 0,
 * background worker), so the test stays out of the way when any of them is up, and tears down
 * what it brought up with the copy's own commands, as the README says.
 */
const CHECKOUTS = [
  `/root/omni-deploy-e2e-${randomBytes(3).toString('hex')}`,
  `/srv/omni deploy e2e-${randomBytes(3).toString('hex')}`,
];

/** The demo's own environment: nothing of this test run's settings but the machine's image store. */
const DEMO_ENV: NodeJS.ProcessEnv = {
  OMNI_DEPLOY_STATE_DIR: undefined,
  OMNI_SIM_INSTANCE: undefined,
  TEMPORAL_ADDRESS: undefined,
  TEMPORAL_NAMESPACE: undefined,
  TEMPORAL_CONFIG_FILE: undefined,
  TEMPORAL_PROFILE: undefined,
};

/** Why a demo's defaults are taken on this machine, or undefined when they are free. */
async function demoInUse(): Promise<string | undefined> {
  const server = defaultDevServerOptions();
  for (const port of [server.port, server.uiPort]) {
    if ((await probeAddress(server.ip, port)) !== 'free') return `something listens on ${server.ip}:${port}`;
  }
  const netns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  if (netns.some((n) => n.startsWith('omd-'))) return 'simulated hosts of instance 0 are up';
  return undefined;
}

function copyWorkingTree(dest: string): void {
  fs.mkdirSync(dest, { recursive: true });
  const files = spawnSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], {
    cwd: PROJECT_ROOT,
    maxBuffer: 64 << 20,
  });
  assert.equal(files.status, 0, String(files.stderr));
  const tar = spawnSync('tar', ['--null', '-T', '-', '-cf', '-'], {
    cwd: PROJECT_ROOT,
    input: files.stdout,
    maxBuffer: 512 << 20,
  });
  assert.equal(tar.status, 0, String(tar.stderr));
  const untar = spawnSync('tar', ['-xf', '-'], { cwd: dest, input: tar.stdout });
  assert.equal(untar.status, 0, String(untar.stderr));
  for (const link of ['node_modules', '.tools']) {
    fs.symlinkSync(fs.realpathSync(path.join(PROJECT_ROOT, link)), path.join(dest, link));
  }
}

/** The README's tear-down, in the copy; every step runs even when an earlier one fails. */
async function tearDown(checkout: string): Promise<void> {
  await runDeploy(['down', 'sim-2p1d'], DEMO_ENV, 180_000, checkout).catch(() => undefined);
  await runDeploy(['worker', '--stop'], DEMO_ENV, 60_000, checkout).catch(() => undefined);
  await runDeploy(['sim', 'down'], DEMO_ENV, 60_000, checkout).catch(() => undefined);
  await runDeploy(['server', 'stop'], DEMO_ENV, 60_000, checkout).catch(() => undefined);
}

describe('README: bin/deploy demo from checkouts under shadowed folders and with a space', () => {
  let busy: string | undefined;
  const made: string[] = [];

  before(async () => {
    busy = await demoInUse();
  });

  after(async () => {
    for (const dir of made) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const checkout of CHECKOUTS) {
    it(`deploys and answers through the proxy from ${checkout}`, { timeout: 420_000 }, async (t) => {
      if (busy) {
        t.skip(`a demo's defaults are in use here (${busy})`);
        return;
      }
      made.push(checkout);
      copyWorkingTree(checkout);
      const started = Date.now();
      try {
        const r = await runDeploy(['demo'], DEMO_ENV, 300_000, checkout);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
        t.diagnostic(`bin/deploy demo from ${checkout}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
        assert.match(
          r.stdout,
          /completion through the proxy: \[prefill 10\.231\.0\.1[12]:900[01] kv_rank [01] -> decode /,
        );
        assert.match(r.stdout, /proxy: {2}http:\/\/10\.231\.0\.11:7000\/v1\/completions/);
        // The hosts' disks are inside this checkout: the demo's hosts were built from them.
        const hosts = path.join(checkout, '.state', 'sim', 'hosts');
        assert.deepEqual(fs.readdirSync(hosts).sort(), ['d0', 'd1', 'p0', 'p1']);
      } finally {
        await tearDown(checkout);
      }
      assert.equal(await demoInUse(), undefined, 'the tear-down left nothing of the demo running');
    });
  }
});
