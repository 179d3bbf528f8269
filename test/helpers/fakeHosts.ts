import { sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Activities } from '../../src/activities';
import { ping } from '../../src/activities/ping';
import type {
  CopyImageArchiveInput,
  HostRef,
  SyncCodeInput,
  WatchHealthInput,
} from '../../src/activities/types';
import { observationSignature, type HostObservation } from '../../src/shared/observation';

export type ActivityName = Exclude<keyof Activities, 'ping'>;

/** One activity call as the hosts saw it: the activity, its host, and what tests tell calls apart by. */
export interface Call {
  activity: ActivityName;
  /** The host it ran on; endRelaySession: 'executor'; watchHealth: the cluster. */
  host: string;
  /** ensureContainer: the image. */
  image?: string;
  /** launchEngines: a restart of running servers. */
  force?: boolean;
  /** syncCode, copyImageArchive: 'executor', or the host it was relayed from. */
  from?: string;
  /** A relayed copy's, or endRelaySession's, session. */
  session?: string;
  /** endRelaySession: the hosts its key was placed on, and those that took it. */
  senders?: string[];
  receivers?: string[];
  /** ensureProxy: the upstreams its config drains (marks down). */
  drained?: string[];
  /** ensureProxy: it waits for the old workers' in-flight requests. */
  awaitDrain?: boolean;
  /** The error type, once the call failed. */
  error?: string;
}

/** One host as the health watch sees it; the steps change it as real ones would. */
export interface HostState {
  /** False: every step on it fails as a lost SSH connection (retryable), the watch sees it gone. */
  reachable: boolean;
  /** Its API servers answer /health; launchEngines makes them healthy. */
  healthy: boolean;
  /** Its container; ensureContainer starts it. */
  container: HostObservation['container'];
}

/**
 * Pretend hosts behind the activities of src/activities, for the workflow tests: the real
 * workflow code on a real Temporal server, with every activity answering at once as a healthy
 * host would (answers as big as real ones, so history sizes measured over them are honest).
 * A test steers it with the knobs below and reads back one ordered record of calls; a behaviour
 * of its own goes to `activities(overrides)`, never into another fake.
 */
export class FakeHosts {
  /** Every call, in the order they started (`clear()` forgets them). */
  record: Call[] = [];
  /** Host, or `<activity>:<host>` → the error type its steps fail with (non-retryable). */
  readonly failing = new Map<string, string>();
  /** Hosts whose container cannot start: ensureContainer fails retryably, as docker would. */
  readonly brokenContainers = new Set<string>();
  /** Hosts whose relaying of a copy fails on the sending end (RelaySenderFailed). */
  readonly deadRelays = new Set<string>();
  /** Hosts that fail to receive a relayed copy (RelayReceiverFailed); a direct one works. */
  readonly refuseRelayed = new Set<string>();
  /** Every host step takes this long first (it never heartbeats: a cancellation waits it out). */
  delayMs = 0;

  private readonly states = new Map<string, HostState>();
  private readonly holds: { match: (c: Call) => boolean; released: Promise<void> }[] = [];
  private ranktableSets = 0;

  /** A host's state, reachable and healthy with its container running until a test says not. */
  host(name: string): HostState {
    let s = this.states.get(name);
    if (!s) this.states.set(name, (s = { reachable: true, healthy: true, container: 'running' }));
    return s;
  }

  /** Holds the calls `match` picks (after recording them) until the returned function is called. */
  hold(match: (c: Call) => boolean): () => void {
    let release!: () => void;
    this.holds.push({ match, released: new Promise<void>((r) => (release = r)) });
    return release;
  }

  calls(activity: ActivityName, host?: string): Call[] {
    return this.record.filter((c) => c.activity === activity && (host === undefined || c.host === host));
  }

  count(activity: ActivityName, host?: string): number {
    return this.calls(activity, host).length;
  }

  /** The hosts of `activity`'s calls that did not fail, in order. */
  hosts(activity: ActivityName): string[] {
    return this.calls(activity)
      .filter((c) => c.error === undefined)
      .map((c) => c.host);
  }

  /** The calls `match` picks, one line each: `<activity> <host>` and the details tests compare. */
  log(match: (c: Call) => boolean = () => true): string[] {
    return this.record
      .filter(match)
      .map((c) =>
        [
          `${c.activity} ${c.host}`,
          c.image,
          c.force && '(restart)',
          c.from !== undefined && c.from !== 'executor' && `from ${c.from}`,
          c.drained && `drained=[${c.drained.join(' ')}]`,
          c.awaitDrain && '(waits for in-flight)',
          c.error !== undefined && `failed: ${c.error}`,
        ]
          .filter(Boolean)
          .join(' '),
      );
  }

  clear(): void {
    this.record = [];
  }

  /** Every activity, answered by these hosts; `overrides` replace single ones. */
  activities(overrides: Partial<Activities> = {}): Activities {
    return {
      ping,
      preflight: (i) => this.step({ activity: 'preflight' }, i.target, () => []),
      ensureContainer: (i) =>
        this.step({ activity: 'ensureContainer', image: i.image }, i.target, () => {
          if (this.brokenContainers.has(i.target.name)) {
            throw failure('CommandError', `docker start ${i.name} failed: OCI runtime error`, true);
          }
          const h = this.host(i.target.name);
          const action = h.container === 'running' ? 'kept' : 'started';
          h.container = 'running';
          return { action, id: `${i.name}-0123456789abcdef0123456789abcdef` };
        }),
      syncCode: (i) => this.copy('syncCode', i, { changed: true, bytesSent: 123_456, installed: true }),
      copyImageArchive: (i) =>
        this.copy('copyImageArchive', i, { changed: true, bytesSent: 1_000_000, copyMs: 1 }),
      // Runs on the executor: no host of its own to be unreachable.
      endRelaySession: (i) =>
        this.track(
          {
            activity: 'endRelaySession',
            host: 'executor',
            session: i.session,
            senders: i.senders.map((h) => h.name),
            receivers: i.receivers.map((h) => h.name),
          },
          async () => ({ cleaned: i.senders.length + i.receivers.length, unreachable: [] }),
        ),
      loadImages: (i) => this.step({ activity: 'loadImages' }, i.target, () => ({ loaded: true })),
      cleanupHost: (i) =>
        this.step({ activity: 'cleanupHost' }, i.target, () => ({
          removedContainers: i.containers,
          stopScriptsRun: 0,
          removedFiles: 0,
          removedDirs: 0,
          kept: 0,
        })),
      readDeviceIps: (i) =>
        this.step({ activity: 'readDeviceIps' }, i.target, () => {
          // From the host's IPv4 address x.x.<b>.<c>: unique in the cluster, as the build wants.
          const [, , b, c] = i.target.address.split('.');
          return i.devices.map((device) => ({
            device,
            output: `ipaddr:172.${16 + Number(b)}.${c}.${device + 1}\nnetmask:255.255.255.0\n`,
          }));
        }),
      writeRanktables: (i) =>
        this.step({ activity: 'writeRanktables' }, i.target, () =>
          i.build
            ? {
                written: 1030,
                unchanged: 0,
                removedStale: 0,
                hash: `${String(++this.ranktableSets).padStart(2, '0')}${'ab'.repeat(31)}`,
                shared: { files: 1030, bytes: 4_900_000 },
              }
            : { written: 1030, unchanged: 0, removedStale: 0, hash: i.copy?.hash ?? '' },
        ),
      launchEngines: (i) =>
        this.step({ activity: 'launchEngines', force: i.force }, i.target, () => {
          this.host(i.target.name).healthy = true;
          // One API server per pid file the scripts write.
          const servers = i.runtimeFiles.filter((f) => f.endsWith('.pid'));
          return {
            action: i.force ? 'restarted' : 'started',
            servers: servers.map((_, rank) => ({
              rank,
              dpRank: rank,
              port: 9000 + rank,
              pid: 1000 + rank,
              log: `/data/log_path/server_${rank}.log`,
            })),
          };
        }),
      awaitEnginesReady: (i) =>
        this.step({ activity: 'awaitEnginesReady' }, i.target, () => ({ servers: 1, waitedMs: 12_345 })),
      ensureProxy: (i) =>
        this.step(
          {
            activity: 'ensureProxy',
            drained: [...i.conf.matchAll(/server (\S+) [^;\n]*\bdown\b/g)].map((m) => m[1]!),
            awaitDrain: Boolean(i.awaitDrainMs),
          },
          i.target,
          () => ({ action: 'reloaded' }),
        ),
      verifyCompletion: (i) =>
        this.step({ activity: 'verifyCompletion' }, i.target, () => {
          const prefill = i.prefillUpstreams[0] ?? '';
          const decode = i.decodeUpstreams[0] ?? '';
          return {
            text: `[prefill ${prefill} kv_rank 0 -> decode ${decode} dp_rank 0] tok1 tok2`,
            prefill,
            decode,
          };
        }),
      fetchHostLogs: (i) =>
        this.step({ activity: 'fetchHostLogs' }, i.target, () => ({
          bytesReceived: 1000,
          filesTransferred: 2,
          found: true,
        })),
      // An unreachable host is an observation, not a failure: the watch reports what `host()` says,
      // returning when that differs from what the workflow knows or after maxWatchMs (an idle point).
      watchHealth: (input) =>
        this.track({ activity: 'watchHealth', host: input.cluster }, async () => {
          const started = Date.now();
          for (let rounds = 1; ; rounds++) {
            const observations = this.observe(input);
            const signature = observationSignature(observations);
            const changed = signature !== input.known;
            if (changed || Date.now() - started > input.maxWatchMs) {
              return { observations, signature, observedAt: Date.now(), rounds, changed };
            }
            // Rejects when the activity is cancelled (the test ends its workflow, the worker stops),
            // so a test does not wait out maxWatchMs.
            await sleep(input.intervalMs);
          }
        }),
      awaitHostAnswers: (i) =>
        this.track({ activity: 'awaitHostAnswers', host: i.target.name }, async () => {
          const started = Date.now();
          for (let tries = 1; ; tries++) {
            if (this.host(i.target.name).reachable) return { waitedMs: Date.now() - started, tries };
            await sleep(50);
          }
        }),
      ...overrides,
    };
  }

  /** A step on a host: delayed, failed as the knobs say, or answered by `answer`. */
  private step<T>(call: Omit<Call, 'host'>, target: HostRef, answer: () => T): Promise<T> {
    const host = target.name;
    return this.track({ ...call, host }, async () => {
      if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
      if (!this.host(host).reachable) {
        throw failure(
          'ConnectionError',
          `cannot reach ${host} (${target.address}) over SSH: SSH handshake timed out`,
          true,
        );
      }
      const type = this.failing.get(host) ?? this.failing.get(`${call.activity}:${host}`);
      if (type) throw failure(type, `${host} is broken`);
      return answer();
    });
  }

  /** A copy from the executor, or relayed from a host (the fan-out), with the relay faults. */
  private copy<T>(
    activity: 'syncCode' | 'copyImageArchive',
    i: SyncCodeInput | CopyImageArchiveInput,
    answer: T,
  ): Promise<T> {
    const from = i.relay?.source.name;
    return this.step({ activity, from: from ?? 'executor', session: i.relay?.session }, i.target, () => {
      if (from !== undefined && this.deadRelays.has(from)) {
        throw failure('RelaySenderFailed', `${from} is down`);
      }
      if (from !== undefined && this.refuseRelayed.has(i.target.name)) {
        throw failure('RelayReceiverFailed', 'no route');
      }
      return answer;
    });
  }

  /** Records the call, waits out holds on it, and marks it with the error type if `run` throws. */
  private async track<T>(call: Call, run: () => Promise<T>): Promise<T> {
    this.record.push(call);
    try {
      for (const h of this.holds) if (h.match(call)) await h.released;
      return await run();
    } catch (err) {
      call.error = err instanceof ApplicationFailure ? (err.type ?? 'ApplicationFailure') : String(err);
      throw err;
    }
  }

  private observe(input: WatchHealthInput): HostObservation[] {
    return input.hosts.map((h) => {
      const s = this.host(h.target.name);
      return {
        host: h.target.name,
        reachable: s.reachable,
        ...(s.reachable ? {} : { error: 'cannot reach host: SSH handshake timed out' }),
        container: s.reachable ? s.container : 'unknown',
        servers: h.servers.map((x) => ({ ...x, healthy: s.reachable && s.healthy })),
        ...(h.proxyPort !== undefined && { proxy: s.reachable ? ('ok' as const) : ('unreachable' as const) }),
      };
    });
  }
}

function failure(type: string, message: string, retryable = false): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: !retryable });
}
