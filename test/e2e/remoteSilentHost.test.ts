import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server } from 'ssh2';
import { ConnectionError, Remote, type RemoteHost } from '../../src/remote';
import { freePort } from '../helpers/ports';

/**
 * A host that logs us in and then never answers a channel open — what a pooled connection to a
 * host that died quietly looks like until keepalives give up. The open must be bounded, the
 * connection dropped and the failure a (retryable) ConnectionError, not a hang.
 */
describe('remote exec on a host that stops answering', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-silent-'));
  let server: Server;
  let host: RemoteHost;
  let remote: Remote;
  let logins = 0;

  before(async () => {
    const hostKey = path.join(dir, 'host_key');
    const clientKey = path.join(dir, 'client_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
    const [type, b64] = fs.readFileSync(`${hostKey}.pub`, 'utf8').split(' ');
    server = new Server({ hostKeys: [fs.readFileSync(hostKey)] }, (client) => {
      client.on('authentication', (ctx) =>
        ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']),
      );
      client.on('ready', () => logins++);
      client.on('session', () => undefined); // neither accepted nor rejected: silence
      client.on('error', () => undefined);
    });
    const port = await freePort();
    await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
    const knownHostsPath = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${type} ${b64}\n`);
    host = { name: 'd1', address: '127.0.0.1', port, user: 'root', auth: { privateKeyPath: clientKey } };
    remote = new Remote({ knownHostsPath, channelOpenTimeoutMs: 400 });
  });

  after(async () => {
    await remote?.closeAll();
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
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
