import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { containerSpecHash, dockerRunArgv } from '../../src/plan';
import { planFromFile } from '../../src/client/planFile';
import { assertGolden } from '../helpers/golden';

const INVENTORY = path.join(__dirname, '..', '..', 'inventories', '2P1D.yml');
const specOf = (name: string, extra: Record<string, string> = {}) =>
  planFromFile(INVENTORY, extra).hosts.find((h) => h.name === name)!.container;

describe('docker run argv', () => {
  it("reproduces the seed's docker run for a prefill host", () => {
    assertGolden('plan/docker-run-p0.txt', `${dockerRunArgv(specOf('p0')).join('\n')}\n`);
  });

  it('gives the proxy container its listen port and image', () => {
    const argv = dockerRunArgv(specOf('c0', { proxy_image: 'registry.local/nginx-njs:1' }));
    assert.ok(argv.includes('PROXY_NODE_PORT=7000'));
    assert.equal(argv.at(-1), 'registry.local/nginx-njs:1');
    assert.deepEqual(argv.slice(0, 6), [
      'docker',
      'run',
      '-it',
      '-d',
      '--name',
      'you_name_omni_infer_proxy_c0',
    ]);
  });

  it('labels the container with a hash that follows the spec', () => {
    const spec = specOf('d0');
    const label = dockerRunArgv(spec).find((a) => a.startsWith('omni-deploy.spec-hash='));
    assert.equal(label, `omni-deploy.spec-hash=${containerSpecHash(spec)}`);
    assert.match(containerSpecHash(spec), /^[0-9a-f]{8}$/);
    assert.equal(containerSpecHash(specOf('d0')), containerSpecHash(spec));
    assert.notEqual(
      containerSpecHash(specOf('d0', { LOG_PATH: '/data/other_logs' })),
      containerSpecHash(spec),
    );
  });

  it('runs podman the same way when asked', () => {
    const argv = dockerRunArgv(specOf('p1', { container_cli: 'podman' }));
    assert.deepEqual(argv.slice(0, 2), ['podman', 'run']);
  });

  it('mounts a folder once even when two settings name it', () => {
    const spec = specOf('p0', { SCRIPTS_PATH: '/data/omni', ranktable_save_path: '/data/omni' });
    const containerPaths = spec.mounts.map((m) => m.container);
    assert.deepEqual(containerPaths, [...new Set(containerPaths)]);
  });
});
