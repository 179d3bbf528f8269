import * as fs from 'node:fs/promises';
import { NodeSSH, type Config } from 'node-ssh';
import type { Client, ServerHostKeyAlgorithm } from 'ssh2';
import {
  AuthenticationError,
  ConnectionError,
  HostKeyMismatchError,
  RemoteConfigError,
  RemoteError,
  UnknownHostKeyError,
  describeHost,
} from './errors';
import { connectionKey, describePasswordRef, type RemoteHost, type SecretResolver } from './host';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  knownHostsName,
  knownKeyTypes,
  readKnownHosts,
} from './knownHosts';
import { Limiter } from './limiter';
import { listenFor } from './silence';
import { workerPath } from './workerPath';

/** Known_hosts file and host key policy are each host's own (RemoteHost); these are the worker's. */
export interface SshPoolOptions {
  /** Needed only for hosts with password auth. */
  secrets?: SecretResolver;
  /** Open channels (exec or sftp) per host. sshd's MaxSessions defaults to 10; we stay below it. */
  maxChannelsPerHost?: number;
  /** Open channels over all hosts of this worker. */
  maxChannelsTotal?: number;
  keepaliveIntervalMs?: number;
  /** Unanswered keepalives before the connection counts as lost. */
  keepaliveCountMax?: number;
  /** TCP connect + handshake + auth budget. */
  readyTimeoutMs?: number;
  /** Budget for opening one channel on a live-looking connection (default 15 s). */
  channelOpenTimeoutMs?: number;
  /** A connection with no open channel for this long is closed. */
  idleCloseMs?: number;
}

class ChannelOpenTimeout extends Error {
  constructor(ms: number) {
    super(`no answer to opening a channel within ${ms} ms (connection presumed dead)`);
  }
}

/** A channel slot on a live connection; `release` must be called once the channel is closed. */
export interface Lease<T> {
  value: T;
  release(): void;
}

interface Entry {
  promise: Promise<Connection>;
  conn?: Connection;
}

interface Connection {
  key: string;
  ssh: NodeSSH;
  client: Client;
  active: number;
  alive: boolean;
  /** Anything received (keepalive replies included) moves this: see src/remote/silence.ts. */
  lastHeardAt: number;
  idleTimer?: NodeJS.Timeout;
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'connection timed out',
  EPIPE: 'connection closed',
  ENOTFOUND: 'address not found',
  EAI_AGAIN: 'name resolution failed',
};

// ssh2's defaults, in its order; the ones known_hosts lists for a host go first (see connect()).
const HOST_KEY_ALGORITHMS: ServerHostKeyAlgorithm[] = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
];

/**
 * SSH connections of one worker process: one per user@address:port, shared by every activity that
 * runs on the worker, opened on first use, dropped when lost (the next use reconnects), closed when
 * idle. Channels are bounded per host and overall so a wide fan-out queues here instead of hitting
 * sshd's MaxSessions or MaxStartups.
 */
export class SshPool {
  /** Connections opened so far (successful handshakes); tests use it to prove reuse. */
  connectionsOpened = 0;
  private readonly connections = new Map<string, Entry>();
  private readonly hostLimiters = new Map<string, Limiter>();
  private readonly globalLimiter: Limiter;

  constructor(readonly options: SshPoolOptions) {
    this.globalLimiter = new Limiter(options.maxChannelsTotal ?? 64);
  }

  /**
   * Takes a channel slot for `host`, then runs `open` (which opens the channel) on its connection.
   * If the connection turns out to be dead (dropped but not yet noticed), `open` runs once more on
   * a fresh connection. An abort of `signal` while waiting for a slot rejects with its reason.
   */
  async open<T>(
    host: RemoteHost,
    open: (client: Client, ssh: NodeSSH) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<Lease<T>> {
    const releaseSlots = await this.acquireSlots(host, signal);
    try {
      for (let attempt = 0; ; attempt++) {
        const conn = await this.connection(host);
        this.markBusy(conn);
        listenFor(host.name, conn);
        try {
          const value = await this.withinOpenBudget(open(conn.client, conn.ssh));
          let released = false;
          return {
            value,
            release: () => {
              if (released) return;
              released = true;
              this.markIdle(conn);
              releaseSlots();
            },
          };
        } catch (err) {
          this.markIdle(conn);
          const stale =
            !conn.alive ||
            err instanceof ChannelOpenTimeout ||
            /not connected|no response from server/i.test(String(err));
          if (stale && attempt === 0) {
            this.drop(conn);
            continue;
          }
          const reason = (err as Error).message;
          throw new ConnectionError(host, `cannot open an SSH channel: ${reason}`, undefined, { cause: err });
        }
      }
    } catch (err) {
      releaseSlots();
      throw err;
    }
  }

  /**
   * A channel open on a connection whose host died quietly gets no answer until keepalives give
   * up; bounded here, so the connection is dropped and the next try reconnects (or fails fast).
   */
  private async withinOpenBudget<T>(opening: Promise<T>): Promise<T> {
    const budget = this.options.channelOpenTimeoutMs ?? 15_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        opening,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new ChannelOpenTimeout(budget)), budget);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * The host's connection without taking a slot. Only for killing a cancelled command: that must
   * work even when every slot of the host is taken by commands waiting to be cancelled, and sshd's
   * MaxSessions leaves room above our per-host limit for it.
   */
  async unlimited<T>(host: RemoteHost, use: (client: Client) => Promise<T>): Promise<T> {
    const conn = await this.connection(host);
    this.markBusy(conn);
    try {
      return await use(conn.client);
    } finally {
      this.markIdle(conn);
    }
  }

  /** Closes every connection (worker shutdown, tests); a later call would simply reconnect. */
  async closeAll(): Promise<void> {
    const pending = [...this.connections.values()];
    this.connections.clear();
    const settled = await Promise.allSettled(pending.map((e) => e.promise));
    for (const s of settled) {
      if (s.status === 'fulfilled') this.drop(s.value);
    }
  }

  private async acquireSlots(host: RemoteHost, signal?: AbortSignal): Promise<() => void> {
    const key = connectionKey(host);
    let limiter = this.hostLimiters.get(key);
    if (!limiter) {
      limiter = new Limiter(this.options.maxChannelsPerHost ?? 8);
      this.hostLimiters.set(key, limiter);
    }
    // Per host first: a waiter for a busy host must not sit on a global slot others could use.
    const releaseHost = await limiter.acquire(signal);
    let releaseGlobal: () => void;
    try {
      releaseGlobal = await this.globalLimiter.acquire(signal);
    } catch (err) {
      releaseHost();
      throw err;
    }
    return () => {
      releaseGlobal();
      releaseHost();
    };
  }

  private connection(host: RemoteHost): Promise<Connection> {
    const key = connectionKey(host);
    const existing = this.connections.get(key);
    if (existing) return existing.promise;
    const entry = {} as Entry;
    entry.promise = this.connect(host, key, entry);
    this.connections.set(key, entry);
    entry.promise.catch(() => {
      if (this.connections.get(key) === entry) this.connections.delete(key);
    });
    return entry.promise;
  }

  private async connect(host: RemoteHost, key: string, entry: Entry): Promise<Connection> {
    const port = host.port;
    const knownHostsPath = workerPath(host.knownHostsFile);
    const policy = host.hostKeyPolicy;
    const name = knownHostsName(host.address, port);
    let refusal: RemoteError | undefined;
    let knownTypes: string[];
    try {
      knownTypes = knownKeyTypes(readKnownHosts(knownHostsPath), name);
    } catch (err) {
      throw new RemoteConfigError(
        host,
        `cannot read known_hosts file ${knownHostsPath} for ${describeHost(host)}: ${(err as Error).message}`,
      );
    }
    const hostVerifier = (blob: Buffer): boolean => {
      // Read again: another connection of this worker may have just added the host (accept-new).
      const check = checkHostKey(readKnownHosts(knownHostsPath), name, blob);
      if (check.status === 'known') return true;
      if (check.status === 'unknown' && policy === 'accept-new') {
        appendKnownHost(knownHostsPath, name, blob);
        return true;
      }
      if (check.status === 'unknown')
        refusal = new UnknownHostKeyError(host, knownHostsPath, fingerprint(blob));
      else if (check.status === 'revoked')
        refusal = new HostKeyMismatchError(host, knownHostsPath, fingerprint(blob), 'is marked @revoked in');
      else
        refusal = new HostKeyMismatchError(
          host,
          knownHostsPath,
          fingerprint(blob),
          `does not match the ${check.knownTypes.join('/')} key(s) in`,
        );
      return false;
    };

    const preferred = HOST_KEY_ALGORITHMS.filter((a) =>
      knownTypes.some((t) => t === a || (t === 'ssh-rsa' && a.startsWith('rsa-sha2-'))),
    );
    const config: Config = {
      host: host.address,
      port,
      username: host.user,
      ...(await this.credentials(host)),
      hostVerifier,
      // A live host answers a keepalive every 5 s, so a silent one is told apart within ~10 s
      // (src/remote/silence.ts) and its connection given up after about 20 s.
      keepaliveInterval: this.options.keepaliveIntervalMs ?? 5_000,
      keepaliveCountMax: this.options.keepaliveCountMax ?? 3,
      readyTimeout: this.options.readyTimeoutMs ?? 20_000,
      ...(preferred.length > 0 && {
        algorithms: {
          serverHostKey: [...preferred, ...HOST_KEY_ALGORITHMS.filter((a) => !preferred.includes(a))],
        },
      }),
    };

    const ssh = new NodeSSH();
    try {
      await ssh.connect(config);
    } catch (err) {
      ssh.dispose();
      throw refusal ?? classifyConnectError(host, err);
    }
    const client = ssh.connection;
    if (!client) throw new ConnectionError(host, 'the connection closed during the handshake');
    const conn: Connection = { key, ssh, client, active: 0, alive: true, lastHeardAt: Date.now() };
    entry.conn = conn;
    // ssh2 keeps its socket private; every byte from the host, keepalive replies too, passes it.
    (client as unknown as { _sock?: NodeJS.EventEmitter })._sock?.on('data', () => {
      conn.lastHeardAt = Date.now();
    });
    // After the handshake node-ssh stops listening for 'error'; an unhandled one would crash the worker.
    const lost = () => this.forget(conn);
    client.on('error', lost);
    client.on('close', lost);
    client.on('end', lost);
    this.connectionsOpened++;
    this.scheduleIdleClose(conn);
    return conn;
  }

  private async credentials(
    host: RemoteHost,
  ): Promise<Pick<Config, 'privateKey' | 'password' | 'tryKeyboard'>> {
    if (host.auth.method === 'key') {
      const file = workerPath(host.auth.keyFile);
      try {
        return { privateKey: await fs.readFile(file, 'utf8') };
      } catch (err) {
        throw new RemoteConfigError(
          host,
          `cannot read the private key ${file} for ${describeHost(host)} on this worker ` +
            `(${(err as NodeJS.ErrnoException).code ?? 'error'}); the key must exist on every worker machine`,
        );
      }
    }
    const ref = host.auth.password;
    if (!this.options.secrets) {
      throw new RemoteConfigError(
        host,
        `${describeHost(host)} logs in with ${describePasswordRef(ref)} but this worker has no secret ` +
          `resolver configured`,
      );
    }
    let password: string;
    try {
      password = await this.options.secrets.resolve(ref);
    } catch {
      // The resolver's own error is left out on purpose: it could echo what it was resolving.
      throw new RemoteConfigError(
        host,
        `cannot resolve ${describePasswordRef(ref)} for ${describeHost(host)} on this worker; check that ` +
          `the inventory is at that path on this machine, or set the worker's OMNI_DEPLOY_SSH_PASSWORD_<HOST>`,
      );
    }
    // keyboard-interactive too: PAM-based sshd setups offer only that for passwords.
    return { password, tryKeyboard: true };
  }

  private markBusy(conn: Connection): void {
    conn.active++;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    conn.idleTimer = undefined;
  }

  private markIdle(conn: Connection): void {
    conn.active--;
    this.scheduleIdleClose(conn);
  }

  private scheduleIdleClose(conn: Connection): void {
    if (conn.active > 0 || !conn.alive) return;
    const idleMs = this.options.idleCloseMs ?? 300_000;
    conn.idleTimer = setTimeout(() => this.drop(conn), idleMs);
    conn.idleTimer.unref();
  }

  private forget(conn: Connection): void {
    conn.alive = false;
    if (conn.idleTimer) clearTimeout(conn.idleTimer);
    if (this.connections.get(conn.key)?.conn === conn) this.connections.delete(conn.key);
  }

  private drop(conn: Connection): void {
    this.forget(conn);
    conn.ssh.dispose();
  }
}

function classifyConnectError(host: RemoteHost, err: unknown): RemoteError {
  const e = err as Error & { level?: string; code?: string };
  if (e.level === 'client-authentication') {
    const how =
      host.auth.method === 'key' ? `key ${host.auth.keyFile} not accepted` : 'password not accepted';
    return new AuthenticationError(host, how);
  }
  if (/privateKey|unsupported key format|encrypted private key/i.test(e.message ?? '')) {
    return new RemoteConfigError(
      host,
      `the private key for ${describeHost(host)} cannot be used: ${e.message}; use an unencrypted OpenSSH or PEM key`,
    );
  }
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code && NETWORK_CODES[code])
    return new ConnectionError(host, NETWORK_CODES[code], code, { cause: err });
  if (e.level === 'client-timeout') return new ConnectionError(host, 'SSH handshake timed out', 'ETIMEDOUT');
  return new ConnectionError(host, e.message ?? String(err), code, { cause: err });
}
