import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { ping } from '../../src/activities/ping';
import { roundTrip } from '../../src/workflows';
import { spawn } from 'node:child_process';
import { temporalCliPath } from '../../src/shared/paths';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { probeAddress } from '../../src/temporal/devServer';
import { runDeploy } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { workflowBundle } from '../helpers/temporal';
import { waitFor } from '../helpers/waitFor';

/**
 * `deploy server` as an operator uses it: detached start with a persistent database, the Web UI,
 * stop and start again with the workflow still there, and the port checks.
 */
describe('deploy server', () => {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-deploy-server-'));
  const env = { OMNI_DEPLOY_STATE_DIR: stateDir };
  let port: number;
  let uiPort: number;
  let flags: string[];

  before(async () => {
    port = await freePort();
    uiPort = await freePort();
    flags = ['--port', String(port), '--ui-port', String(uiPort)];
  });

  after(async () => {
    await runDeploy(['server', 'stop'], env);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  const start = () => runDeploy(['server', 'start', '--detach', ...flags], env);

  it('starts detached and serves the Web UI', async () => {
    const r = await start();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Web UI http://127.0.0.1:${uiPort}`));
    const res = await fetch(`http://127.0.0.1:${uiPort}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(await res.text(), /<html/i);
  });

  it('status reports the server TEMPORAL_ADDRESS points at, with the ports it was started with', async () => {
    const r = await runDeploy(['server', 'status'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      new RegExp(
        `^running \\(pid \\d+\\): gRPC 127\\.0\\.0\\.1:${port}, Web UI http://127\\.0\\.0\\.1:${uiPort}$`,
        'm',
      ),
    );
    // Pointed elsewhere (nothing listens there), it says so about that address, not 7233.
    const nowhere = await freePort();
    const other = await runDeploy(['server', 'status'], { ...env, TEMPORAL_ADDRESS: `127.0.0.1:${nowhere}` });
    assert.equal(other.code, 3);
    assert.match(other.stdout, new RegExp(`not running: nothing answers on 127\\.0\\.0\\.1:${nowhere}`));
  });

  it('reuses a server that already answers', async () => {
    const r = await start();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /already answers .*reusing it/);
  });

  it('keeps a completed workflow across a restart (persistent database)', async () => {
    const address = `127.0.0.1:${port}`;
    const workflowId = `persist-${randomUUID()}`;
    const taskQueue = `persist-${randomUUID()}`;
    const native = await NativeConnection.connect({ address });
    const connection = await Connection.connect({ address });
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

    const stop = await runDeploy(['server', 'stop'], env);
    assert.match(stop.stdout, /stopped pid \d+/);
    const status = await runDeploy(['server', 'status', ...flags], env);
    assert.match(status.stdout, /not running/);

    assert.equal((await start()).code, 0);
    const again = await Connection.connect({ address });
    try {
      const handle = new Client({ connection: again }).workflow.getHandle(workflowId);
      const description = await handle.describe();
      assert.equal(description.status.name, 'COMPLETED');
      assert.deepEqual((await handle.result()).echoed, 'kept');
    } finally {
      await again.close();
    }
  });

  it('adds the search attributes a database from an older omni-deploy lacks', async () => {
    // start-dev registers its --search-attribute list only when it creates the namespace: a
    // database made before DeployHealth existed kept failing every cluster workflow task.
    assert.match((await runDeploy(['server', 'stop'], env)).stdout, /stopped pid \d+/);
    const oldPort = await freePort();
    const oldDb = path.join(stateDir, 'older.db');
    const older = spawn(
      temporalCliPath(),
      ['server', 'start-dev', '--headless', '--ip', '127.0.0.1', '--port', String(oldPort)].concat([
        '--db-filename',
        oldDb,
        '--log-level',
        'error',
        '--search-attribute',
        'DeployCluster=Keyword',
      ]),
      { stdio: 'ignore' },
    );
    const exited = new Promise((r) => older.once('exit', r));
    try {
      await waitFor(async () => (await probeAddress('127.0.0.1', oldPort)) === 'temporal', {
        interval: 250,
        what: 'the older server to come up',
      });
    } finally {
      older.kill('SIGTERM');
      await exited;
    }

    const oldFlags = [
      '--port',
      String(oldPort),
      '--ui-port',
      String(await freePort()),
      '--db-filename',
      oldDb,
    ];
    const r = await runDeploy(['server', 'start', '--detach', ...oldFlags], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const connection = await Connection.connect({ address: `127.0.0.1:${oldPort}` });
    try {
      const { customAttributes } = await connection.operatorService.listSearchAttributes({
        namespace: 'default',
      });
      for (const a of SEARCH_ATTRIBUTES)
        assert.ok(a.name in (customAttributes ?? {}), `${a.name} registered`);
    } finally {
      await connection.close();
      await runDeploy(['server', 'stop'], env);
    }
  });

  it('refuses a port that another program holds, naming it', async () => {
    // A plain TCP service; the probe's gRPC attempt resets the connection, which is expected.
    const busy = net.createServer((s) => s.on('error', () => undefined).end('not temporal\n'));
    const busyPort = await freePort();
    await new Promise<void>((r) => busy.listen(busyPort, '127.0.0.1', r));
    try {
      const r = await runDeploy(['server', 'start', '--detach', '--port', String(busyPort)], env);
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        new RegExp(`port 127.0.0.1:${busyPort} is taken by a program that is not a Temporal server`),
      );
    } finally {
      busy.close();
    }
  });

  it('starts in a state folder that does not exist yet, with the database elsewhere', async () => {
    // The log and PID files live in the state folder; only the database's folder used to be
    // created, so this failed with ENOENT on temporal/server.log.
    const fresh = path.join(stateDir, 'fresh-state');
    const elsewhere = path.join(stateDir, 'elsewhere', 'dev.db');
    const freshEnv = { OMNI_DEPLOY_STATE_DIR: fresh };
    const r = await runDeploy(
      [
        'server',
        'start',
        '--detach',
        '--port',
        String(await freePort()),
        '--ui-port',
        String(await freePort()),
      ].concat(['--db-filename', elsewhere]),
      freshEnv,
    );
    try {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.ok(fs.existsSync(elsewhere), 'the database is where --db-filename says');
      assert.ok(fs.existsSync(path.join(fresh, 'temporal', 'server.log')));
    } finally {
      assert.match((await runDeploy(['server', 'stop'], freshEnv)).stdout, /stopped pid \d+/);
    }
  });
});
