import { spawn } from 'node:child_process';
import {
  AuthenticationError,
  ConnectionError,
  HostKeyMismatchError,
  RemoteConfigError,
  type RemoteError,
  TransferError,
  UnknownHostKeyError,
  describeHost,
} from './errors';
import type { RemoteHost } from './host';
import { shellJoin } from '../shared/shellQuote';
import { sshConfigPath } from './sshConfigValue';
import { workerPath } from './workerPath';

export interface RsyncOptions {
  /** push: local → host; pull: host → local. */
  direction: 'push' | 'pull';
  /** Both are directories; the content of the source mirrors into the destination. */
  localDir: string;
  remoteDir: string;
  /** Remove files at the destination that the source does not have. */
  delete?: boolean;
  /** Push only this file of localDir (a name in it), into remoteDir. */
  file?: string;
  exclude?: readonly string[];
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
}

/** A host that logs in with a key: the only kind rsync's ssh can reach (see rsync()). */
export type KeyHost = RemoteHost & { auth: { method: 'key'; keyFile: string } };

export interface RsyncSettings {
  connectTimeoutSec?: number;
}

export interface RsyncResult {
  filesTransferred: number;
  /** File data actually sent (what the delta algorithm could not match); 0 when nothing changed. */
  literalBytes: number;
  bytesSent: number;
  bytesReceived: number;
}

// 24: "some files vanished before they could be transferred" — normal for live log directories.
const OK_CODES = new Set([0, 24]);

/**
 * Directory sync with the local rsync over the system ssh, with the host's own identity, known_hosts
 * and policy, as the pool uses them (a second, unpooled connection: rsync needs its own). Password
 * hosts are refused, because ssh in BatchMode cannot take a password and sshpass is not available.
 */
export async function rsync(
  host: RemoteHost,
  opts: RsyncOptions,
  settings: RsyncSettings = {},
): Promise<RsyncResult> {
  if (!isKeyHost(host)) {
    throw new RemoteConfigError(
      host,
      `directory sync to ${describeHost(host)} needs key authentication (rsync runs ssh in batch mode, which ` +
        `cannot take a password); give this host a private key in the inventory`,
    );
  }
  opts.signal?.throwIfAborted();
  const args = rsyncArgs(host, opts, settings);
  const child = spawn('rsync', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (!opts.onOutput) return;
    const lines = (pending + chunk).split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) opts.onOutput(line);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  // rsync and its ssh share a process group of their own, so one kill stops both.
  const onAbort = () => {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
  };
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }).finally(() => opts.signal?.removeEventListener('abort', onAbort));

  if (opts.signal?.aborted) throw opts.signal.reason;
  if (code === null || !OK_CODES.has(code)) throw classifyRsyncFailure(host, code, stderr);
  return parseStats(stdout);
}

/** How an rsync reaches the other end over ssh: its own identity and host keys, nothing implicit. */
export interface SshTransport {
  port: number;
  user: string;
  keyFile: string;
  knownHostsFile: string;
  /** accept-new: an unknown host is trusted and recorded; otherwise it must be known already. */
  acceptNew: boolean;
  connectTimeoutSec: number;
  /** How often to ask a silent peer whether it is alive (3 unanswered: the copy fails). */
  aliveIntervalSec: number;
}

const CIPHERS =
  'aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-ctr,aes256-ctr';

/** The `-e` of rsync: ssh with no config file, agent or default identity in the way. */
function sshCommand(t: SshTransport): string {
  return shellJoin([
    'ssh',
    '-F',
    '/dev/null',
    '-i',
    t.keyFile,
    '-p',
    String(t.port),
    '-l',
    t.user,
    '-o',
    `UserKnownHostsFile=${sshConfigPath(t.knownHostsFile)}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    `StrictHostKeyChecking=${t.acceptNew ? 'accept-new' : 'yes'}`,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${t.connectTimeoutSec}`,
    '-o',
    `ServerAliveInterval=${t.aliveIntervalSec}`,
    // AES-GCM first: with the CPU's AES instructions (x86 AES-NI, ARMv8 crypto) it costs a third of
    // the default ChaCha20's CPU per byte (bench:sync); the rest of the default list follows.
    '-o',
    `Ciphers=${CIPHERS}`,
    '-o',
    'LogLevel=ERROR',
  ]);
}

function copyArgs(
  t: SshTransport,
  address: string,
  opts: Pick<RsyncOptions, 'direction' | 'localDir' | 'remoteDir' | 'delete' | 'exclude' | 'file'>,
): string[] {
  const remote = `${address.includes(':') ? `[${address}]` : address}:${withSlash(opts.remoteDir)}`;
  if (opts.file !== undefined && (opts.file.includes('/') || opts.file === '' || opts.direction !== 'push')) {
    throw new RangeError(`rsync pushes one file by its name in the folder, got ${JSON.stringify(opts.file)}`);
  }
  const local =
    opts.file === undefined ? withSlash(opts.localDir) : `${withSlash(opts.localDir)}${opts.file}`;
  return [
    '-a',
    '--stats',
    '--no-human-readable',
    ...(opts.delete ? ['--delete'] : []),
    ...(opts.exclude ?? []).map((p) => `--exclude=${p}`),
    // rsync splits -e itself and honours POSIX single quotes.
    '-e',
    sshCommand(t),
    '--',
    ...(opts.direction === 'push' ? [local, remote] : [remote, local]),
  ];
}

/** The argv of the local rsync; exported for tests and `--dry-run`-style displays. */
export function rsyncArgs(host: KeyHost, opts: RsyncOptions, settings: RsyncSettings = {}): string[] {
  const transport: SshTransport = {
    port: host.port,
    user: host.user,
    keyFile: workerPath(host.auth.keyFile),
    knownHostsFile: workerPath(host.knownHostsFile),
    acceptNew: host.hostKeyPolicy === 'accept-new',
    connectTimeoutSec: settings.connectTimeoutSec ?? 20,
    aliveIntervalSec: 15,
  };
  return copyArgs(transport, host.address, opts);
}

/**
 * The argv a sending host runs to push `dir` to `target` (src/remote/commands/relay.ts): with
 * the session's key and the target's host key as the executor verified it, both in `folder` on
 * the sender, strictly checked. A target that goes quiet fails the copy within 15 s.
 */
export function relayRsyncArgv(
  target: RemoteHost,
  sender: { folder: string; knownHostsTag: string },
  dir: string,
  exclude: readonly string[],
  file?: string,
): string[] {
  const transport: SshTransport = {
    port: target.port,
    user: target.user,
    keyFile: `${sender.folder}/key`,
    knownHostsFile: `${sender.folder}/known_hosts.${sender.knownHostsTag}`,
    acceptNew: false,
    connectTimeoutSec: 10,
    aliveIntervalSec: 5,
  };
  return [
    'rsync',
    ...copyArgs(transport, target.address, {
      direction: 'push',
      localDir: dir,
      remoteDir: dir,
      exclude,
      file,
    }),
  ];
}

export function parseStats(stdout: string): RsyncResult {
  const num = (label: string): number => {
    const m = new RegExp(`^${label}: ([\\d,.]+)`, 'm').exec(stdout);
    return m?.[1] ? Number(m[1].replace(/[,.]/g, '')) : 0;
  };
  return {
    filesTransferred: num('Number of regular files transferred'),
    literalBytes: num('Literal data'),
    bytesSent: num('Total bytes sent'),
    bytesReceived: num('Total bytes received'),
  };
}

function isKeyHost(host: RemoteHost): host is KeyHost {
  return host.auth.method === 'key';
}

function withSlash(dir: string): string {
  return dir.endsWith('/') ? dir : `${dir}/`;
}

function classifyRsyncFailure(host: RemoteHost, code: number | null, stderr: string): RemoteError {
  const knownHosts = workerPath(host.knownHostsFile);
  const tail = stderr.trim().split('\n').slice(-5).join(' | ');
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED/.test(stderr))
    return new HostKeyMismatchError(host, knownHosts, 'a different key (seen by ssh)');
  if (/Host key verification failed|No \S+ host key is known/.test(stderr))
    return new UnknownHostKeyError(host, knownHosts, 'a key ssh could not verify');
  if (/Permission denied \(/.test(stderr)) return new AuthenticationError(host, `ssh for rsync: ${tail}`);
  const net =
    /Connection refused|Connection timed out|No route to host|Connection reset|Connection closed/.exec(
      stderr,
    );
  if (net) return new ConnectionError(host, `ssh for rsync: ${net[0]}`);
  return new TransferError(
    host,
    `rsync with ${describeHost(host)} failed (exit ${code ?? 'signal'}): ${tail}; check that rsync is ` +
      `installed on the host and the directories exist`,
  );
}
