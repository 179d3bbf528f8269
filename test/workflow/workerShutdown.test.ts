import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivityDeps } from '../../src/activities';
import type { RemoteHost } from '../../src/remote';
import { createWorkers } from '../../src/worker';
import { startSsh2TestServer, type Ssh2TestServer } from '../helpers/ssh2TestServer';
import { startTestServer } from '../helpers/temporal';

/**
 * A worker that stops logs out of every host: the SSH pool its activities share is closed once
 * its workers have shut down, so no connection of a stopped worker lingers on a host.
 */
describe('worker shutdown', () => {
  let env: TestWorkflowEnvironment;
  let server: Ssh2TestServer;
  let closed: Promise<void>;

  before(async () => {
    let onClose!: () => void;
    closed = new Promise((resolve) => (onClose = resolve));
    server = await startSsh2TestServer((client) => {
      client.on('authentication', (ctx) =>
        ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']),
      );
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          const stream = acceptExec();
          stream.write('4242\n'); // the PID line of the exec wrapper
          stream.exit(0);
          stream.end();
        });
      });
      client.on('close', onClose);
    });
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
    await server?.close();
  });

  it('closes the pooled SSH connections of its activities', async () => {
    const host: RemoteHost = {
      name: 'p0',
      address: '127.0.0.1',
      port: server.port,
      user: 'root',
      auth: { method: 'key', keyFile: server.clientKeyPath },
      knownHostsFile: server.knownHostsPath,
      hostKeyPolicy: 'strict',
    };
    const deps = createActivityDeps();
    // Only the executor queue: activities without workflows, so nothing is bundled.
    const set = await createWorkers({
      connection: env.nativeConnection,
      namespace: 'default',
      shared: false,
      executor: 'shutdown-test',
      deps,
    });
    const running = set.run();
    await deps.remote.exec(host, ['true']);
    assert.equal(deps.remote.pool.connectionsOpened, 1);
    for (const w of set.workers) w.shutdown();
    await running;
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 5000).unref());
    assert.equal(await Promise.race([closed.then(() => 'closed'), timeout]), 'closed');
  });
});
