import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server } from 'ssh2';
import { Remote, type RemoteHost } from '../../src/remote';
import { freePort } from '../helpers/ports';

/**
 * A command that is over at once: the server confirms the channel and sends output, exit status,
 * EOF and close in the same write, as a busy sshd does. The exit status must not be lost (it once
 * was: the listeners went on a few microtasks after ssh2 had emitted `exit`, and the command
 * looked like a lost connection). ssh2's own server makes that timing deterministic.
 */
describe('remote exec of a command that finishes immediately', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-instant-'));
  let server: Server;
  let host: RemoteHost;
  let remote: Remote;

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
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec) => {
          // All in one tick: the PID line the exec wrapper prints, output, exit 3, close.
          const stream = acceptExec();
          stream.write('4242\nhello\n');
          stream.exit(3);
          stream.end();
        });
      });
      client.on('error', () => undefined);
    });
    const port = await freePort();
    await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
    const knownHostsPath = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${type} ${b64}\n`);
    host = { name: 'p0', address: '127.0.0.1', port, user: 'root', auth: { privateKeyPath: clientKey } };
    remote = new Remote({ knownHostsPath });
  });

  after(async () => {
    await remote?.closeAll();
    await new Promise((res) => server.close(res));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('reports exit code and output of every such command', async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, () => remote.exec(host, ['anything'], { check: false })),
    );
    assert.deepEqual([...new Set(results.map((r) => `${r.code} ${r.stdout.trim()}`))], ['3 hello']);
  });
});
