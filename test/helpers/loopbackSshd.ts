import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './ports';
import { waitFor } from './waitFor';

/** A real OpenSSH sshd on loopback, for tests of the remote layer. */
export interface LoopbackSshd {
  host: string;
  port: number;
  user: 'root';
  /** Client private key accepted by this sshd. */
  keyPath: string;
  /** A known_hosts file holding exactly this sshd's host key (`[host]:port ssh-ed25519 …`). */
  knownHostsPath: string;
  /** The known_hosts line, for tests that build their own files. */
  knownHostsLine: string;
  dir: string;
  /** Successful logins so far, counted from sshd's own log. */
  acceptedLogins(): number;
  /** Kills the per-connection sshd processes: every client connection drops, the listener stays. */
  dropConnections(): void;
  /** Kills this sshd (listener and its connection processes) and removes its files. */
  stop(): Promise<void>;
}

export interface LoopbackSshdOptions {
  address?: string;
  /** Reuse another instance's host key, e.g. to restart "the same host". */
  hostKeyFrom?: string;
}

export async function startLoopbackSshd(opts: LoopbackSshdOptions = {}): Promise<LoopbackSshd> {
  const address = opts.address ?? '127.0.0.1';
  const port = await freePort(address);
  // Every path absolute: sshd re-execs per connection from `/` and relative paths break it.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-sshd-'));
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const hostKey = path.join(dir, 'ssh_host_ed25519_key');
  if (opts.hostKeyFrom) {
    fs.copyFileSync(opts.hostKeyFrom, hostKey);
    fs.copyFileSync(`${opts.hostKeyFrom}.pub`, `${hostKey}.pub`);
    fs.chmodSync(hostKey, 0o600);
  } else {
    keygen(hostKey);
  }
  const keyPath = path.join(dir, 'client_key');
  keygen(keyPath);
  fs.copyFileSync(`${keyPath}.pub`, path.join(dir, 'authorized_keys'));
  const logPath = path.join(dir, 'sshd.log');
  const configPath = path.join(dir, 'sshd_config');
  fs.writeFileSync(
    configPath,
    [
      `ListenAddress ${address}:${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'MaxSessions 10',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  const child = spawn('/usr/sbin/sshd', ['-D', '-f', configPath, '-E', logPath], { stdio: 'ignore' });
  const pid = child.pid;
  if (pid === undefined) throw new Error('sshd did not start');
  await waitForListener(address, port, child);

  const hostPub = fs.readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
  const knownHostsLine = `[${address}]:${port} ${hostPub[0]} ${hostPub[1]}`;
  const knownHostsPath = path.join(dir, 'known_hosts');
  fs.writeFileSync(knownHostsPath, `${knownHostsLine}\n`);

  const connectionPids = () => {
    try {
      return fs
        .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
    } catch {
      return [];
    }
  };
  const killAll = (pids: number[]) => {
    for (const p of pids) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };

  return {
    host: address,
    port,
    user: 'root',
    keyPath,
    knownHostsPath,
    knownHostsLine,
    dir,
    acceptedLogins: () => {
      const log = fs.existsSync(logPath) ? fs.readFileSync(logPath, 'utf8') : '';
      return (log.match(/^.*Accepted (publickey|password) for /gm) ?? []).length;
    },
    dropConnections: () => killAll(connectionPids()),
    stop: async () => {
      const sessions = connectionPids();
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      killAll(sessions);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function keygen(file: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'omni-deploy-test', '-f', file]);
}

async function waitForListener(
  address: string,
  port: number,
  child: ReturnType<typeof spawn>,
): Promise<void> {
  const listening = () => {
    if (child.exitCode !== null) throw new Error(`sshd exited with code ${child.exitCode}`);
    return new Promise<boolean>((resolve) => {
      const s = net.connect(port, address);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  };
  await waitFor(listening, {
    timeout: 10_000,
    interval: 50,
    what: `sshd on ${address}:${port} to listen`,
  }).catch((err: unknown) => {
    child.kill('SIGKILL');
    throw err;
  });
}
