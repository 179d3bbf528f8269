// runner: group=production (each runs PostgreSQL and a Temporal server; two at once would starve the 2 cores)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ping } from '../../src/activities/ping';
import { ensureCertificates } from '../../src/temporal/production/certificates';
import { databasePassword, sql } from '../../src/temporal/production/postgres';
import { DATABASES } from '../../src/temporal/production/topology';
import { roundTrip } from '../../src/workflows';
import { runDeploy } from '../helpers/cli';
import { productionTemporal, type ProductionTemporal } from '../helpers/productionTemporal';
import { workflowBundle } from '../helpers/temporal';

/**
 * `deploy server start --backend postgres` as an operator uses it: a private PostgreSQL, the schema
 * set up by temporal-sql-tool, temporal-server with mTLS and the Web UI server, all from the
 * binaries scripts/build-temporal.sh builds; started again it changes nothing; stopped and started,
 * the data is still there; a client without a certificate of the CA is refused.
 */
describe('deploy server --backend postgres', { timeout: 900_000 }, () => {
  let t: ProductionTemporal;

  before(async () => {
    t = await productionTemporal();
  });
  after(async () => {
    await t?.remove();
  });

  /** Each database's tables, columns and indexes, and the schema history: what a no-op leaves alone. */
  const schemaFingerprint = async () => {
    const password = databasePassword(t.layout);
    const out: Record<string, string> = {};
    for (const db of DATABASES) {
      out[db.name] = await sql(
        t.dbPort,
        password,
        db.name,
        `SELECT (SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)
                   FROM information_schema.columns WHERE table_schema = 'public')
             || '|' || (SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public')
             || '|' || (SELECT string_agg(old_version || '>' || new_version || '@' || update_time, ',' ORDER BY update_time, new_version)
                   FROM schema_update_history)
             || '|' || (SELECT curr_version FROM schema_version)`,
      );
    }
    return out;
  };

  it('starts PostgreSQL, sets the schema up, starts temporal-server (mTLS) and the Web UI', async () => {
    const started = Date.now();
    const r = await t.start();
    console.log(`first start in ${Date.now() - started} ms:\n${r.stdout}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^PostgreSQL created and started, pid \d+/m);
    for (const db of DATABASES)
      assert.match(r.stdout, new RegExp(`^schema ${db.name}: created, schema \\d+\\.\\d+$`, 'm'));
    assert.match(r.stdout, /^temporal-server started, pid \d+: gRPC 127\.0\.0\.1:\d+ \(mTLS\)/m);
    assert.match(r.stdout, /^namespace default created, search attributes registered$/m);
    assert.match(r.stdout, /^Web UI started, pid \d+: http:\/\/127\.0\.0\.1:\d+$/m);

    const page = await fetch(`http://127.0.0.1:${t.uiPort}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<html/i);
    // The UI server reaches the frontend through mTLS with its own certificate.
    const ns = await fetch(`http://127.0.0.1:${t.uiPort}/api/v1/namespaces/default`);
    assert.equal(ns.status, 200, await ns.text());
  });

  it('a second start is a no-op: the same processes, the schema untouched', async () => {
    const before = await schemaFingerprint();
    const started = Date.now();
    const r = await t.start();
    console.log(`second start in ${Date.now() - started} ms:\n${r.stdout}`);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^mTLS: certificates kept/m);
    assert.match(r.stdout, /^PostgreSQL running, pid \d+/m);
    for (const db of DATABASES)
      assert.match(r.stdout, new RegExp(`^schema ${db.name}: schema \\S+, up to date$`, 'm'));
    assert.match(r.stdout, /^temporal-server running/m);
    assert.match(r.stdout, /^namespace default present/m);
    assert.match(r.stdout, /^Web UI running/m);
    assert.deepEqual(await schemaFingerprint(), before);
  });

  it('status names each process and the frontend answers', async () => {
    const r = await runDeploy(['server', 'status'], t.env);
    console.log(r.stdout);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^production Temporal \(PostgreSQL backend, mTLS\)/m);
    assert.match(r.stdout, new RegExp(`^  PostgreSQL\\s+pid \\d+, 127\\.0\\.0\\.1:${t.dbPort}$`, 'm'));
    assert.match(
      r.stdout,
      new RegExp(`^  temporal-server\\s+pid \\d+, gRPC 127\\.0\\.0\\.1:${t.port}$`, 'm'),
    );
    assert.match(r.stdout, new RegExp(`^  Web UI\\s+pid \\d+, http://127\\.0\\.0\\.1:${t.uiPort}$`, 'm'));
  });

  it('refuses clients without a certificate of its CA; the envconfig profile gets in', async () => {
    const address = `127.0.0.1:${t.port}`;
    const ca = fs.readFileSync(path.join(t.layout.tls, 'ca.pem'));
    /** GetSystemInfo through a fresh connection: 'answered' or why not. */
    const attempt = async (options: ConnectionOptions): Promise<string> => {
      let connection: Connection | undefined;
      try {
        connection = await Connection.connect({ ...options, connectTimeout: 5000 });
        const c = connection;
        await c.withDeadline(Date.now() + 5000, () => c.workflowService.getSystemInfo({}));
        return 'answered';
      } catch (err) {
        return (err as Error).message.split('\n')[0]!;
      } finally {
        await connection?.close().catch(() => undefined);
      }
    };
    // Checked by the name in the server's certificate, as envconfig clients of it do.
    const server = { serverNameOverride: 'temporal', serverRootCACertificate: ca };
    const pair = (dir: string, name: string) => ({
      crt: fs.readFileSync(path.join(dir, `${name}.pem`)),
      key: fs.readFileSync(path.join(dir, `${name}.key`)),
    });
    // A certificate from another CA (a `deploy certs` of another checkout).
    const other = path.join(t.stateDir, 'other-ca');
    await ensureCertificates(other, { ips: [], dns: [] }, ['intruder']);
    const cases: [string, ConnectionOptions][] = [
      ['plain text', { address }],
      ['TLS without a client certificate', { address, tls: server }],
      [
        'a client certificate of another CA',
        { address, tls: { ...server, clientCertPair: pair(other, 'intruder') } },
      ],
    ];
    // The same call with this machine's client certificate: the way of asking is not what fails.
    const [ours, ...outcomes] = await Promise.all([
      attempt({ address, tls: { ...server, clientCertPair: pair(t.layout.tls, 'client') } }),
      ...cases.map(([, o]) => attempt(o)),
    ]);
    assert.equal(ours, 'answered', 'a client certificate of its CA gets in');
    cases.forEach(([what], i) => {
      console.log(`${what}: ${outcomes[i]}`);
      assert.notEqual(outcomes[i], 'answered', `${what}: the server answered`);
    });

    // The CLI: pointed at the server without TLS settings it cannot reach it; with the profile it can.
    const [bare, withProfile] = await Promise.all([
      runDeploy(['list'], { TEMPORAL_ADDRESS: address, TEMPORAL_CONFIG_FILE: undefined }),
      runDeploy(['list'], t.clientEnv),
    ]);
    assert.notEqual(bare.code, 0);
    assert.match(bare.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+/);
    assert.equal(withProfile.code, 0, withProfile.stdout + withProfile.stderr);
  });

  it('keeps a completed workflow across a stop and a start (PostgreSQL)', async () => {
    const workflowId = `persist-${randomUUID()}`;
    const taskQueue = `persist-${randomUUID()}`;
    const options = t.connection();
    const native = await NativeConnection.connect({ address: options.address, tls: options.tls });
    const connection = await Connection.connect(options);
    try {
      const worker = await Worker.create({
        connection: native,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: { ping },
      });
      const client = new Client({ connection });
      await worker.runUntil(client.workflow.execute(roundTrip, { workflowId, taskQueue, args: ['kept'] }));
    } finally {
      await native.close();
      await connection.close();
    }

    const stop = await t.stop();
    assert.equal(stop.code, 0, stop.stdout + stop.stderr);
    assert.match(
      stop.stdout,
      /^stopped Web UI \(pid \d+\), temporal-server \(pid \d+\), PostgreSQL \(pid \d+\); data kept/m,
    );
    const down = await runDeploy(['server', 'status'], t.env);
    assert.notEqual(down.code, 0);

    const again = await t.start();
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /^PostgreSQL started/m);
    assert.match(again.stdout, /^temporal-server started/m);
    const c = await Connection.connect(t.connection());
    try {
      const handle = new Client({ connection: c }).workflow.getHandle(workflowId);
      assert.equal((await handle.describe()).status.name, 'COMPLETED');
      assert.equal((await handle.result()).echoed, 'kept');
    } finally {
      await c.close();
    }
  });

  it('writes no private key and no database password into its logs', () => {
    const secrets = [
      ...['server.key', 'client.key', 'ui.key', 'ca.key'].map((k) =>
        fs
          .readFileSync(path.join(t.layout.tls, k), 'utf8')
          .split('\n')
          .filter((l) => l && !l.startsWith('-----'))
          .join(''),
      ),
      databasePassword(t.layout),
    ];
    for (const log of [t.layout.server.log, t.layout.ui.log, t.layout.postgres.log]) {
      const text = fs.readFileSync(log, 'utf8').replaceAll('\n', '');
      assert.ok(text.length > 0, `${log} has lines`);
      assert.doesNotMatch(text, /PRIVATE KEY/, log);
      for (const s of secrets) assert.ok(!text.includes(s), `${log} holds a secret`);
    }
  });
});
