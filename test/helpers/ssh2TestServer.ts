import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Server, type Connection } from 'ssh2';
import { freePort } from './ports';

export interface Ssh2TestServer {
  port: number;
  /** known_hosts naming the server's key at `[127.0.0.1]:port`. */
  knownHostsPath: string;
  /** A client key (the server's handlers decide whether to accept it). */
  clientKeyPath: string;
  close: () => Promise<void>;
}

/**
 * ssh2's own SSH server on loopback, for behaviour a real sshd will not show on demand (a silent
 * host, an answer that arrives in one write, password logins without touching the machine's
 * accounts). `onClient` installs the authentication and session handlers.
 */
export async function startSsh2TestServer(onClient: (client: Connection) => void): Promise<Ssh2TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-ssh2-'));
  const hostKey = path.join(dir, 'host_key');
  const clientKeyPath = path.join(dir, 'client_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKeyPath]);
  const [type, b64] = fs.readFileSync(`${hostKey}.pub`, 'utf8').split(' ');
  const server = new Server({ hostKeys: [fs.readFileSync(hostKey)] }, (client) => {
    client.on('error', () => undefined);
    onClient(client);
  });
  const port = await freePort();
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', res));
  const knownHostsPath = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${type} ${b64}\n`);
  return {
    port,
    knownHostsPath,
    clientKeyPath,
    close: async () => {
      await new Promise((res) => server.close(res));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
