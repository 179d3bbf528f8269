import { Context, sleep } from '@temporalio/activity';
import { observationSignature, type HostObservation } from '../shared/observation';
import { LOAD_METRIC_PATTERN } from './engineLoad';
import { withHeartbeat } from './heartbeat';
import type { ActivityDeps } from './deps';
import type { ProbeHost, WatchHealthInput, WatchHealthResult } from './types';

/**
 * One SSH command per host and round: each API server's `/health` (all at once, each bounded),
 * on the proxy host the proxy's own `/health` verdict, and the container's state. The state costs
 * a container-engine call (a podman process, or a round trip to dockerd), so it is asked only
 * when something did not answer: a host whose servers (and proxy) all answer has its container
 * running, and that is the common case every round. With LOAD (an extended regular expression,
 * when the worker exports engine load) it also passes back those lines of each server's /metrics,
 * as `metrics PORT <line>`. Arguments: CLI CONTAINER ADDRESS PROXY_PORT|- LOAD|- PORT…
 */
export const PROBE_SCRIPT = `cli=$1 c=$2 addr=$3 proxy=$4 load=$5; shift 5
all=yes
[ $# -gt 0 ] || [ "$proxy" != - ] || all=no
if [ $# -gt 0 ]; then
  servers=$(for p; do
    ( code=$(curl -s -o /dev/null -w '%{http_code}' --connect-timeout 1 --max-time 2 "http://$addr:$p/health" 2>/dev/null)
      echo "server $p \${code:-000}" ) &
  done; wait)
  echo "$servers"
  echo "$servers" | grep -qv ' 200$' && all=no
  if [ "$load" != - ]; then
    for p; do
      ( curl -s --connect-timeout 1 --max-time 2 "http://$addr:$p/metrics" 2>/dev/null | grep -E "$load" | sed "s/^/metrics $p /" ) &
    done; wait
  fi
fi
if [ "$proxy" != - ]; then
  body=$(curl -s --connect-timeout 1 --max-time 4 "http://$addr:$proxy/health" 2>/dev/null | tr -d '\\n')
  [ -n "$body" ] || all=no
  echo "proxy \${body:-unreachable}"
fi
if [ $all = yes ]; then
  echo "container running"
else
  st=$("$cli" container inspect --format '{{.State.Status}}' "$c" 2>/dev/null) || st=missing
  echo "container $st"
fi
`;

/** Reads the probe's lines into an observation of `host`. */
export function parseProbe(host: ProbeHost, stdout: string): HostObservation {
  const lines = stdout.split('\n');
  const state = /^container (\S+)/m.exec(stdout)?.[1];
  const codes = new Map<number, string>();
  for (const l of lines) {
    const m = /^server (\d+) (\d+)$/.exec(l.trim());
    if (m) codes.set(Number(m[1]), m[2]!);
  }
  const proxyLine = lines.find((l) => l.startsWith('proxy '))?.slice('proxy '.length);
  let proxy: HostObservation['proxy'];
  if (host.proxyPort !== undefined) {
    const status = proxyLine ? /"status"\s*:\s*"(ok|degraded|down)"/.exec(proxyLine)?.[1] : undefined;
    proxy = (status as HostObservation['proxy']) ?? 'unreachable';
  }
  return {
    host: host.target.name,
    reachable: true,
    container:
      state === undefined
        ? 'unknown'
        : state === 'running'
          ? 'running'
          : state === 'missing'
            ? 'missing'
            : 'stopped',
    servers: host.servers.map((s) => ({ ...s, healthy: codes.get(s.port) === '200' })),
    ...(proxy !== undefined && { proxy }),
  };
}

function unreachable(host: ProbeHost, error: string): HostObservation {
  return {
    host: host.target.name,
    reachable: false,
    error,
    container: 'unknown',
    servers: host.servers.map((s) => ({ ...s, healthy: false })),
    ...(host.proxyPort !== undefined && { proxy: 'unreachable' as const }),
  };
}

/** Probe one host; never throws: a host that cannot be asked is observed as unreachable. */
async function probeHost(
  deps: ActivityDeps,
  cluster: string,
  host: ProbeHost,
  timeoutMs: number,
  cancelled: AbortSignal,
): Promise<HostObservation> {
  const { remote } = deps;
  const remoteHost = host.target;
  const signal = AbortSignal.any([cancelled, AbortSignal.timeout(timeoutMs)]);
  const argv = [
    'sh',
    '-c',
    PROBE_SCRIPT,
    'probe',
    host.cli,
    host.container,
    host.address,
    host.proxyPort === undefined ? '-' : String(host.proxyPort),
    deps.engineLoad ? LOAD_METRIC_PATTERN : '-',
    ...host.servers.map((s) => String(s.port)),
  ];
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([
      remote.exec(remoteHost, argv, { check: false, signal, timeoutMs }),
      // A host that died quietly may not even let the abort through: the round does not wait.
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer over SSH within ${timeoutMs} ms`)),
          timeoutMs + 500,
        );
      }),
    ]);
    if (deps.engineLoad) deps.engineLoad.record(cluster, host, r.stdout);
    return parseProbe(host, r.stdout);
  } catch (err) {
    if (cancelled.aborted) throw err;
    const message = err instanceof Error ? err.message : String(err);
    return unreachable(host, signal.aborted ? `no answer over SSH within ${timeoutMs} ms` : message);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Hosts probed at once: fewer than the SSH pool lets run at once (64 channels by default), so a
 * probe's budget times its host's answer and not the queue before it — with every host at once,
 * a 128-host cluster's first round reported every host past the 64th down (bench:scale).
 */
export const PROBE_CONCURRENCY = 32;

async function probeAll(
  deps: ActivityDeps,
  cluster: string,
  hosts: readonly ProbeHost[],
  timeoutMs: number,
  signal: AbortSignal,
): Promise<HostObservation[]> {
  const out: HostObservation[] = new Array<HostObservation>(hosts.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < hosts.length) {
      const i = next++;
      out[i] = await probeHost(deps, cluster, hosts[i]!, timeoutMs, signal);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, hosts.length) }, lane));
  return out;
}

/**
 * The watch returns at least this often even when nothing changed, so an idle cluster workflow
 * gets a workflow task (an idle point, where it may continue as new onto new workflow code).
 */
export const WATCH_RETURN_MS = 10 * 60_000;

/**
 * Watch the cluster's hosts: probe them every `intervalMs` and return as soon as what is seen
 * differs from what the workflow knows (`known`), or after `maxWatchMs` (at most WATCH_RETURN_MS)
 * without change. One long-running, heartbeating activity instead of a workflow timer per round.
 *
 * It also returns promptly, with what it saw last, when its worker shuts down (the shutdown
 * cancels it) and when it is a retry (its previous worker went away): either way the workflow
 * gets a task now, where it may move to the new worker's code, instead of the watch being retried
 * on and on by a worker that stays away.
 */
export async function watchHealth(deps: ActivityDeps, input: WatchHealthInput): Promise<WatchHealthResult> {
  const ctx = Context.current();
  const retry = ctx.info.attempt > 1;
  const maxWatchMs = Math.min(input.maxWatchMs, WATCH_RETURN_MS);
  let last: WatchHealthResult = {
    observations: [],
    signature: input.known,
    observedAt: Date.now(),
    rounds: 0,
    changed: false,
  };
  try {
    return await withHeartbeat(async (signal, progress) => {
      const started = Date.now();
      for (let rounds = 1; ; rounds++) {
        const observations = await probeAll(deps, input.cluster, input.hosts, input.probeTimeoutMs, signal);
        const signature = observationSignature(observations);
        const observedAt = Date.now();
        progress({ rounds, observedAt, signature });
        const changed = signature !== input.known;
        last = { observations, signature, observedAt, rounds, changed };
        if (retry) return { ...last, reason: 'retry' as const };
        if (changed || observedAt - started + input.intervalMs >= maxWatchMs) return last;
        await sleep(input.intervalMs);
      }
    });
  } catch (err) {
    if (ctx.cancellationDetails?.workerShutdown) return { ...last, reason: 'worker-shutdown' };
    throw err;
  }
}
