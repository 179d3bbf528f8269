import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Remote, type RemoteHost } from '../../src/remote';
import { startSsh2TestServer, type Ssh2TestServer } from '../helpers/ssh2TestServer';

/**
 * A command that is over at once: the server confirms the channel and sends output, exit status,
 * EOF and close in the same write, as a busy sshd does. The exit status must not be lost (it once
 * was: the listeners went on a few microtasks after ssh2 had emitted `exit`, and the command
 * looked like a lost connection). ssh2's own server makes that timing deterministic.
 */
describe('remote exec of a command that finishes immediately', () => {
  let server: Ssh2TestServer;
  let host: RemoteHost;
  let remote: Remote;

  before(async () => {
    server = await startSsh2TestServer((client) => {
      client.on('authentication', (ctx) =>
        ctx.method === 'publickey' ? ctx.accept() : ctx.reject(['publickey']),
      );
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          // All in one tick: the PID line the exec wrapper prints, output, exit 3, close.
          const stream = acceptExec();
          stream.write('4242\nhello\n');
          stream.exit(3);
          stream.end();
        });
      });
    });
    host = {
      name: 'p0',
      address: '127.0.0.1',
      port: server.port,
      user: 'root',
      auth: { method: 'key', keyFile: server.clientKeyPath },
      knownHostsFile: server.knownHostsPath,
      hostKeyPolicy: 'strict',
    };
    remote = new Remote();
  });

  after(async () => {
    await remote?.closeAll();
    await server?.close();
  });

  it('reports exit code and output of every such command', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => remote.exec(host, ['anything'], { check: false })),
    );
    assert.deepEqual([...new Set(results.map((r) => `${r.code} ${r.stdout.trim()}`))], ['3 hello']);
  });
});
