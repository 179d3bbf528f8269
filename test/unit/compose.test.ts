import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { clientIdentity, serverIdentity } from '../../src/temporal/production/certificates';
import { DYNAMIC_CONFIG_FILE } from '../../src/temporal/production/layout';
import {
  COMPOSE_POSTGRES_PORT,
  DATABASES,
  DB_USER,
  FRONTEND_PORT,
  NAMESPACE,
  NAMESPACE_RETENTION_HOURS,
  POSTGRES_MAJOR,
  TEMPORAL_SERVER_VERSION,
  TEMPORAL_UI_VERSION,
  UI_PORT,
  schemaSteps,
  schemaToolEnvironment,
  serverEnvironment,
  uiEnvironment,
} from '../../src/temporal/production/topology';

/**
 * docker-compose.temporal.yml: the self-hosted Temporal of real deployments. No container engine
 * runs images from Docker Hub here, so it is checked as far as a machine without one can: its
 * structure (pinned images, health checks, the start-order chain), that it runs what the native
 * topology (`deploy server start --backend postgres`, src/temporal/production) runs — versions,
 * environments, schema steps, namespace, search attributes — and, where a compose client is
 * installed, that client's own `config` validation.
 */
const ROOT = path.join(__dirname, '..', '..');
const FILE = path.join(ROOT, 'docker-compose.temporal.yml');

interface Service {
  image: string;
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  command?: string[];
}

/** As the container sees it: compose passes every value as a string. */
const environmentOf = (name: string) =>
  Object.fromEntries(Object.entries(services[name]!.environment ?? {}).map(([k, v]) => [k, String(v)]));

const PASSWORD = '${TEMPORAL_DB_PASSWORD:-temporal}';
const COMPOSE_DB = { host: 'postgresql', port: COMPOSE_POSTGRES_PORT, password: PASSWORD };
const TLS_DIR = '/etc/temporal/tls';

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
    assert.equal(services.postgresql!.image, `postgres:${POSTGRES_MAJOR}`);
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
    assert.deepEqual(services.temporal!.ports, [`${FRONTEND_PORT}:${FRONTEND_PORT}`]);
    assert.deepEqual(services['temporal-ui']!.ports, [`${UI_PORT}:8080`]);
  });

  it('runs the versions the native topology runs and scripts/build-temporal.sh builds', () => {
    assert.equal(services.temporal!.image, `temporalio/server:${TEMPORAL_SERVER_VERSION}`);
    assert.equal(services['temporal-ui']!.image, `temporalio/ui:${TEMPORAL_UI_VERSION}`);
    const build = fs.readFileSync(path.join(ROOT, 'scripts', 'build-temporal.sh'), 'utf8');
    assert.match(
      build,
      new RegExp(`^SERVER_VERSION=${TEMPORAL_SERVER_VERSION.replaceAll('.', '\\.')}$`, 'm'),
    );
    assert.match(build, new RegExp(`^UI_VERSION=${TEMPORAL_UI_VERSION.replaceAll('.', '\\.')}$`, 'm'));
  });

  it('gives the server the environment the native topology gives temporal-server', () => {
    assert.deepEqual(
      environmentOf('temporal'),
      serverEnvironment({
        db: COMPOSE_DB,
        bindOnIp: '0.0.0.0',
        frontendPort: FRONTEND_PORT,
        dynamicConfigFile: `/etc/temporal/config/dynamicconfig/${path.basename(DYNAMIC_CONFIG_FILE)}`,
        tls: serverIdentity(TLS_DIR),
      }),
    );
    // The dynamic config is the checkout's file, mounted; the certificates a `deploy certs --dir ./tls`.
    const dynamicConfigDir = path.relative(ROOT, path.dirname(DYNAMIC_CONFIG_FILE));
    assert.ok(fs.existsSync(DYNAMIC_CONFIG_FILE));
    assert.ok(
      services.temporal!.volumes!.includes(`./${dynamicConfigDir}:/etc/temporal/config/dynamicconfig:ro`),
    );
    for (const s of ['temporal', 'temporal-create-namespace', 'temporal-ui']) {
      assert.ok(services[s]!.volumes!.includes(`./tls:${TLS_DIR}:ro`), `${s} mounts the certificates`);
    }
    assert.equal(environmentOf('postgresql').POSTGRES_USER, DB_USER);
    assert.equal(environmentOf('postgresql').POSTGRES_PASSWORD, PASSWORD);
  });

  it('sets the schema up with the steps the native topology runs', () => {
    assert.deepEqual(environmentOf('temporal-schema-setup'), schemaToolEnvironment(COMPOSE_DB));
    const script = services['temporal-schema-setup']!.command!.join('\n');
    // The script loops over name:schema pairs with $$name / $$schema (compose's escaped $).
    for (const db of DATABASES) assert.match(script, new RegExp(`\\b${db.name}:${db.schema}\\b`));
    for (const step of schemaSteps({ name: '$$name', schema: '$$schema' }, false)) {
      assert.ok(script.includes(`temporal-sql-tool ${step.join(' ')}`), `the script runs ${step.join(' ')}`);
    }
  });

  it('gives the Web UI the settings the native UI server gets', () => {
    assert.deepEqual(
      environmentOf('temporal-ui'),
      uiEnvironment({
        temporalAddress: `temporal:${FRONTEND_PORT}`,
        port: UI_PORT,
        origin: `http://localhost:${UI_PORT}`,
        tls: clientIdentity(TLS_DIR, 'ui'),
      }),
    );
    const ns = environmentOf('temporal-create-namespace');
    assert.equal(ns.TEMPORAL_TLS_CLIENT_CERT_PATH, clientIdentity(TLS_DIR).cert);
  });

  it("creates the namespace and the workflows' search attributes", () => {
    const script = services['temporal-create-namespace']!.command!.join('\n');
    assert.match(
      script,
      new RegExp(`namespace create -n ${NAMESPACE} --retention ${NAMESPACE_RETENTION_HOURS}h`),
    );
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
