import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ConnectionError, Remote, type RemoteHost } from '../../src/remote';
import { startSsh2TestServer, type Ssh2TestServer } from '../helpers/ssh2TestServer';

/**
 * A host that logs us in and then never answers a channel open — what a pooled connection to a
 * host that died quietly looks like until keepalives give up. The open must be bounded, the
 * connection dropped and the failure a (retryable) ConnectionError, not a hang.
 */
describe('remote exec on a host that stops answering', () => {
  let server: Ssh2TestServer;
  let host: RemoteHost;
  let remote: Remote;
  let logins = 0;

  before(async () => {
    server = await startSsh2TestServer((client) => {
      client.on('authentication', (ctx) =>
        ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']),
      );
      client.on('ready', () => logins++);
      client.on('session', () => undefined); // neither accepted nor rejected: silence
    });
    host = {
      name: 'd1',
      address: '127.0.0.1',
      port: server.port,
      user: 'root',
      auth: { method: 'key', keyFile: server.clientKeyPath },
      knownHostsFile: server.knownHostsPath,
      hostKeyPolicy: 'strict',
    };
    remote = new Remote({ channelOpenTimeoutMs: 400 });
  });

  after(async () => {
    await remote?.closeAll();
    await server?.close();
  });

  it(
    'fails with a retryable ConnectionError naming the host after one fresh reconnect',
    { timeout: 20_000 },
    async () => {
      const t0 = Date.now();
      await assert.rejects(remote.exec(host, ['true']), (e: unknown) => {
        assert.ok(e instanceof ConnectionError, String(e));
        assert.equal(e.retryable, true);
        assert.match(e.message, /cannot reach d1 \(127\.0\.0\.1:\d+\)/);
        assert.match(e.message, /no answer to opening a channel within 400 ms/);
        return true;
      });
      assert.ok(Date.now() - t0 < 5_000, 'bounded, not a hang');
      assert.equal(logins, 2, 'the silent connection was dropped and one new one tried');
    },
  );
});
