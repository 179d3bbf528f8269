import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadImagesScript, parseSimEngine } from '../../sim';

const RUNC_WRAPPER = path.join(__dirname, '..', '..', 'sim', 'host-runc.sh');

/** Capability names by bit, as the kernel numbers them (the wrapper's own table, checked here). */
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_NET_ADMIN: 12,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_RESOURCE: 24,
};

function boundingSet(): bigint {
  const line = fs.readFileSync('/proc/self/status', 'utf8').match(/^CapBnd:\s*([0-9a-f]+)$/m)!;
  return BigInt(`0x${line[1]}`);
}

/**
 * The docker hosts of the simulated cluster (sim/containerEngine.ts): the engine setting, the
 * script that loads the images into a host's dockerd, and the runc wrapper that lets Docker's
 * `--privileged` containers start on a machine whose capability bounding set lacks some.
 */
describe('simulated docker hosts', () => {
  it('the engine is podman or docker; anything else is refused with where it came from', () => {
    assert.equal(parseSimEngine(undefined, 'OMNI_SIM_ENGINE'), 'podman');
    assert.equal(parseSimEngine('', 'OMNI_SIM_ENGINE'), 'podman');
    assert.equal(parseSimEngine('docker', 'OMNI_SIM_ENGINE'), 'docker');
    assert.throws(
      () => parseSimEngine('Docker', 'OMNI_SIM_ENGINE'),
      /OMNI_SIM_ENGINE must be one of podman, docker, got "Docker"/,
    );
  });

  it('loads an image only when the host lacks it, and tags it :latest as well', () => {
    const script = loadImagesScript([
      {
        image: 'localhost/omni-sim-engine:abc',
        archive: '/var/lib/a b/engine.tar',
        latest: 'localhost/omni-sim-engine:latest',
      },
    ]);
    assert.match(
      script,
      /^docker image inspect localhost\/omni-sim-engine:abc >\/dev\/null 2>&1 \|\| docker load -q -i '\/var\/lib\/a b\/engine\.tar' >\/dev\/null$/m,
    );
    assert.match(script, /^docker tag localhost\/omni-sim-engine:abc localhost\/omni-sim-engine:latest$/m);
    assert.match(script, /dockerd did not start/);
  });

  it('the runc wrapper takes out of a spec exactly the capabilities the bounding set lacks, then runs runc', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-runc-'));
    try {
      const bundle = path.join(dir, 'bundle');
      fs.mkdirSync(bundle);
      const caps = Object.keys(CAP_BITS);
      const spec = {
        process: { capabilities: { bounding: caps, effective: caps, permitted: [...caps].reverse() } },
      };
      fs.writeFileSync(path.join(bundle, 'config.json'), JSON.stringify(spec));
      const exec = path.join(dir, 'process.json');
      fs.writeFileSync(
        exec,
        JSON.stringify({ capabilities: { bounding: ['CAP_SYS_RESOURCE'], effective: caps } }),
      );
      // A stand-in runc that records its arguments.
      fs.mkdirSync(path.join(dir, 'bin'));
      fs.writeFileSync(path.join(dir, 'bin', 'runc'), `#!/bin/sh\necho "runc $*"\n`, { mode: 0o755 });
      const env = { ...process.env, PATH: `${path.join(dir, 'bin')}:${process.env.PATH ?? ''}` };

      const create = spawnSync(
        'bash',
        [RUNC_WRAPPER, '--root', '/run/x', 'create', '--bundle', bundle, 'id1'],
        {
          env,
          encoding: 'utf8',
        },
      );
      assert.equal(create.status, 0, create.stderr);
      assert.equal(create.stdout.trim(), `runc --root /run/x create --bundle ${bundle} id1`);
      const execRun = spawnSync('bash', [RUNC_WRAPPER, 'exec', `--process=${exec}`, 'id1'], {
        env,
        encoding: 'utf8',
      });
      assert.equal(execRun.status, 0, execRun.stderr);

      const allowed = caps.filter((c) => ((boundingSet() >> BigInt(CAP_BITS[c]!)) & 1n) === 1n);
      const after = JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')) as typeof spec;
      assert.deepEqual(after.process.capabilities.bounding, allowed);
      assert.deepEqual(after.process.capabilities.effective, allowed);
      assert.deepEqual(after.process.capabilities.permitted, [...allowed].reverse());
      const afterExec = JSON.parse(fs.readFileSync(exec, 'utf8')) as {
        capabilities: Record<string, string[]>;
      };
      assert.deepEqual(afterExec.capabilities.effective, allowed);
      assert.deepEqual(
        afterExec.capabilities.bounding,
        allowed.includes('CAP_SYS_RESOURCE') ? ['CAP_SYS_RESOURCE'] : [],
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
