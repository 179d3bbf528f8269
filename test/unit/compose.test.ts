import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';

/**
 * docker-compose.temporal.yml: the self-hosted Temporal of real deployments. No container engine
 * runs images from Docker Hub here, so it is checked as far as a machine without one can: its
 * structure (pinned images, health checks, the start-order chain) and, where a compose client is
 * installed, that client's own `config` validation.
 */
const FILE = path.join(__dirname, '..', '..', 'docker-compose.temporal.yml');

interface Service {
  image: string;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
}

const compose = parse(fs.readFileSync(FILE, 'utf8')) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;

/** `docker-compose` (v1, Debian's package) or the `docker compose` plugin, whichever answers. */
function composeClient(): string[] | undefined {
  for (const argv of [['docker-compose'], ['docker', 'compose']]) {
    const r = spawnSync(argv[0]!, [...argv.slice(1), 'version'], { encoding: 'utf8' });
    if (r.status === 0) return argv;
  }
  return undefined;
}
const client = composeClient();

describe('docker-compose.temporal.yml', () => {
  it('has the upstream services with pinned images', () => {
    assert.deepEqual(Object.keys(services).sort(), [
      'postgresql',
      'temporal',
      'temporal-create-namespace',
      'temporal-schema-setup',
      'temporal-ui',
    ]);
    assert.equal(services.postgresql!.image, 'postgres:16');
    for (const [name, s] of Object.entries(services)) {
      assert.match(s.image, /:\d+(\.\d+)*$/, `${name}: image ${s.image} is not pinned to a version`);
    }
    const server = services.temporal!.image.split(':')[1];
    for (const oneShot of ['temporal-schema-setup', 'temporal-create-namespace']) {
      assert.equal(
        services[oneShot]!.image,
        `temporalio/admin-tools:${server}`,
        `${oneShot} matches the server`,
      );
    }
    assert.match(services['temporal-ui']!.image, /^temporalio\/ui:/);
  });

  it('starts each step after the previous one is healthy or done', () => {
    const waitsFor = (name: string) =>
      Object.entries(services[name]!.depends_on ?? {}).map(([dep, d]) => `${dep}:${d.condition}`);
    assert.deepEqual(waitsFor('temporal-schema-setup'), ['postgresql:service_healthy']);
    assert.deepEqual(waitsFor('temporal'), ['temporal-schema-setup:service_completed_successfully']);
    assert.deepEqual(waitsFor('temporal-create-namespace'), ['temporal:service_healthy']);
    assert.deepEqual(waitsFor('temporal-ui'), ['temporal:service_healthy']);
    for (const waited of ['postgresql', 'temporal']) {
      assert.ok(services[waited]!.healthcheck?.test.length, `${waited} has a health check`);
    }
  });

  it('keeps the database in a named volume and publishes 7233 and 8080', () => {
    const [volume] = services.postgresql!.volumes![0]!.split(':');
    assert.ok(volume! in compose.volumes, `postgres data lives in the named volume ${volume}`);
    assert.deepEqual(services.temporal!.ports, ['7233:7233']);
    assert.deepEqual(services['temporal-ui']!.ports, ['8080:8080']);
  });

  it("creates the namespace and the workflows' search attributes", () => {
    const script = services['temporal-create-namespace']!.command!.join('\n');
    assert.match(script, /namespace create -n default/);
    for (const key of SEARCH_ATTRIBUTES) assert.match(script, new RegExp(`\\b${key.name}\\b`));
    assert.ok(
      SEARCH_ATTRIBUTES.every((k) => k.type === 'KEYWORD'),
      'the script creates Keyword attributes',
    );
  });

  it(
    "passes the compose client's own validation (config)",
    { skip: client ? false : 'no compose client installed (neither docker-compose nor docker compose)' },
    () => {
      const r = spawnSync(client![0]!, [...client!.slice(1), '-f', FILE, 'config'], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      const resolved = parse(r.stdout) as { services: Record<string, Service> };
      assert.deepEqual(Object.keys(resolved.services).sort(), Object.keys(services).sort());
    },
  );
});
