import { powerOffHost, rebootHost, type SimContext } from '../../sim';
import { failureWindow, runLoad, type LoadReport, type Sample } from '../../src/loadgen';
import type { Plan } from '../../src/plan/types';
import type { ClusterStatus } from '../../src/workflows/cluster/types';
import { ssh } from './deploy';
import { waitForStatus, type ClusterHandle } from './serve';

/**
 * Faults the self-healing cluster must survive, injected on the simulated cluster while a bounded
 * load runs through the proxy, and what each one cost: when the status first told the truth
 * (detect), when the cluster served again (serve), and the requests that failed meanwhile.
 * Used by test/e2e/heal.test.ts (asserted) and bench/heal.ts (printed).
 */
export interface FaultContext {
  ctx: SimContext;
  plan: Plan;
  handle: ClusterHandle;
  /** `http://proxy/v1/completions` */
  url: string;
  model: string;
}

export interface Fault {
  name: string;
  /** Breaks something on the hosts. */
  inject: (f: FaultContext) => Promise<void>;
  /** The status tells the truth about it (health names what broke). */
  detected: (s: ClusterStatus) => boolean;
  /** Runs once detected, e.g. a reboot of a powered-off host; absent = the cluster repairs alone. */
  afterDetect?: (f: FaultContext) => Promise<void>;
}

export interface FaultResult {
  fault: string;
  /** Fault injected → status says so. */
  detectMs: number;
  /** Fault injected → health serving again, cluster ready. */
  serveMs: number;
  /** The load during the fault. */
  load: LoadReport;
  /** Failed requests and the span they covered. */
  failures: number;
  failureSpanMs: number;
  /** A successful request after the cluster was serving again (it really serves). */
  servedAfter: boolean;
}

const hostOf = (plan: Plan, name: string) => plan.hosts.find((h) => h.name === name)!;

/** Poll the status until `predicate` holds (the shared helper; `what` names the wait). */
export const poll = waitForStatus;

export const servingAgain = (s: ClusterStatus) => s.stage === 'ready' && s.health?.state === 'serving';

const unitState = (s: ClusterStatus, unit: string) => s.health?.units.find((u) => u.unit === unit);

export async function measureFault(f: FaultContext, fault: Fault, timeoutMs = 180_000): Promise<FaultResult> {
  await poll(f.handle, 'serving before the fault', servingAgain, 120_000);
  const stop = new AbortController();
  const samples: Sample[] = [];
  const loading = runLoad({
    url: f.url,
    model: f.model,
    durationMs: timeoutMs + 60_000,
    concurrency: 2,
    pauseMs: 50,
    timeoutMs: 10_000,
    signal: stop.signal,
    onSample: (s) => samples.push(s),
  });
  try {
    await new Promise((r) => setTimeout(r, 1000)); // load before the fault: the baseline
    const t0 = Date.now();
    const loadStartedAt = t0 - 1000;
    await fault.inject(f);
    await poll(f.handle, `${fault.name} detected`, fault.detected, timeoutMs);
    const detectMs = Date.now() - t0;
    if (fault.afterDetect) await fault.afterDetect(f);
    await poll(f.handle, `serving again after ${fault.name}`, servingAgain, timeoutMs);
    const serveMs = Date.now() - t0;
    // It really serves: requests that start from now on succeed.
    const servedFrom = Date.now() - loadStartedAt;
    await new Promise((r) => setTimeout(r, 1500));
    stop.abort();
    const load = await loading;
    const after = samples.filter((s) => s.startMs >= servedFrom && s.error !== 'aborted');
    const window = failureWindow(samples.filter((s) => s.error !== 'aborted'));
    return {
      fault: fault.name,
      detectMs,
      serveMs,
      load,
      failures: window.failures,
      failureSpanMs: window.spanMs,
      servedAfter: after.length > 0 && after.every((s) => s.ok),
    };
  } finally {
    stop.abort();
    await loading.catch(() => undefined);
  }
}

/** Kill one decode engine process (DP rank of the first API server on `host`), by its PID. */
export function killDecodeEngine(host: string): Fault {
  return {
    name: `kill a decode engine on ${host}`,
    inject: async ({ ctx, plan }) => {
      const h = hostOf(plan, host);
      const run = `${plan.scriptsDir}/run/${host}`;
      await ssh(
        ctx,
        h.address,
        `pid=$(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p' '${run}/servers.json' | head -1); ` +
          `${h.container.cli} exec ${h.container.name} kill -9 "$pid"`,
      );
    },
    detected: (s) => {
      const unit = unitState(s, 'decode-0');
      return unit !== undefined && unit.state !== 'serving' && /DP rank|not answering/.test(unit.cause ?? '');
    },
  };
}

/** `docker stop` of a host's container by hand. */
export function stopContainer(host: string, unit: string): Fault {
  return {
    name: `stop the container of ${host} by hand`,
    inject: async ({ ctx, plan }) => {
      const h = hostOf(plan, host);
      await ssh(ctx, h.address, `${h.container.cli} stop -t 0 ${h.container.name} >/dev/null`);
    },
    // Any trouble on that host: a probe that lands while `docker stop` is under way sees the
    // servers gone before the container, and the repair may follow before the next probe.
    detected: (s) => {
      const condition = unitState(s, unit)?.hosts.find((x) => x.host === host)?.condition;
      return condition !== undefined && condition !== 'ok';
    },
  };
}

/** Power a host off; after the status says so, reboot it (disk kept), as an operator would. */
export function powerOff(host: string, unit: string, reboot = true): Fault {
  return {
    name: `power off ${host}${reboot ? ' and reboot it' : ''}`,
    inject: ({ ctx }) => powerOffHost(host, ctx),
    detected: (s) => unitState(s, unit)?.hosts.find((x) => x.host === host)?.condition === 'unreachable',
    ...(reboot && { afterDetect: async ({ ctx }: FaultContext) => void (await rebootHost(host, ctx)) }),
  };
}

export function formatResult(r: FaultResult): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return (
    `${r.fault.padEnd(44)} detect ${s(r.detectMs).padStart(7)}  serve ${s(r.serveMs).padStart(7)}  ` +
    `${r.failures}/${r.load.sent} requests failed over ${s(r.failureSpanMs)}  p99 ${r.load.latencyMs.p99.toFixed(0)} ms`
  );
}
