import { ActivityCancellationType, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ProbeHost, WatchHealthInput, WatchHealthResult } from '../../activities/types';
import type { Plan } from '../../plan/types';
import type { HostObservation } from '../../shared/observation';
import { hostRef, hostStepRetry } from '../common';
import { PhaseFailed, type PhaseContext } from './context';
import type { ClusterHealth, Unit } from './health';
import { distributeRanktables, keptRanktables } from './ranktablePhase';
import { startServers } from './serverPhases';
import { proxyInput } from './serverSteps';
import { planHost, syncCodeTargets } from './steps';
import type { HealthOptions } from './types';
import { HEALTH_WATCH } from '../patches';

/** What the health watch probes on every host: its container, its API servers, the proxy. */
export function probeHosts(plan: Plan): ProbeHost[] {
  return plan.hosts.map((h) => ({
    target: hostRef(plan, h),
    cli: h.container.cli,
    container: h.container.name,
    address: h.address,
    servers: h.apiServers.map((s) => ({ port: s.port, dpRank: s.dpRank })),
    ...(h.role === 'proxy' && { proxyPort: plan.proxy.listenPort }),
  }));
}

/** The watch: one activity that returns when something changed (or after maxWatchMs). */
export function watchHealth(
  plan: Plan,
  health: HealthOptions,
  known: string,
  heartbeatTimeout: string,
  seq: number,
): Promise<WatchHealthResult> {
  const { watchHealth: watch } = proxyActivities<Activities>({
    activityId: `watch/health/${seq}`,
    summary: `${plan.cluster} · health watch`,
    // A round probes every host (each bounded); the activity lives up to maxWatchMs.
    startToCloseTimeout: health.maxWatchMs + 10 * health.probeTimeoutMs + 60_000,
    heartbeatTimeout,
    retry: hostStepRetry({
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      // The watch itself never fails (an unreachable host is an observation); only a lost
      // worker makes it retry, for as long as the cluster lives.
      maximumAttempts: 1_000_000,
    }),
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
  const input: WatchHealthInput = {
    cluster: plan.cluster,
    hosts: probeHosts(plan),
    known,
    intervalMs: health.intervalMs,
    probeTimeoutMs: health.probeTimeoutMs,
    maxWatchMs: health.maxWatchMs,
  };
  return watch(input);
}

/**
 * Upstreams the proxy should not send to: every API server that does not answer, and all of a
 * unit that is down (a prefill instance whose Ray group broke answers nothing useful).
 */
export function drainedUpstreams(
  plan: Plan,
  health: ClusterHealth | undefined,
  observations: readonly HostObservation[],
): string[] {
  if (!health) return [];
  const drained = new Set<string>();
  const byHost = new Map(observations.map((o) => [o.host, o]));
  for (const unit of health.units) {
    if (unit.kind === 'proxy' || unit.state === 'serving') continue;
    for (const h of unit.hosts) {
      const host = planHost(plan, h.host);
      for (const s of host.apiServers) {
        const healthy = byHost.get(h.host)?.servers.find((x) => x.port === s.port)?.healthy === true;
        if (unit.state === 'down' || !healthy) drained.add(`${host.address}:${s.port}`);
      }
    }
  }
  return [...drained].sort();
}

/** Host steps during a repair: two quick tries each; the repair has its own attempts. */
const REPAIR_STEP_RETRY = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '5 seconds',
  maximumAttempts: 2,
};

/**
 * Repair one unit as a whole, as the deploy built it: its containers (started when stopped, made
 * when gone), its code (synced; installed again into a new container), its ranktables (put back
 * where lost), its engines (stopped and relaunched in the readiness-gated order), then the proxy
 * with its upstreams following health. `onAttemptFailed` hears of each failed attempt before the
 * wait that follows; after the last one the failure propagates (the cluster waits for the operator).
 */
export async function repairUnit(
  ctx: PhaseContext,
  unit: Unit,
  round: number,
  health: HealthOptions,
  drained: () => string[],
  onAttemptFailed: (attempt: number, nextInMs: number) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    ctx.retryOverride = REPAIR_STEP_RETRY;
    try {
      await repairOnce(ctx, unit, `heal.${round}.${attempt}`, drained);
      return;
    } catch (err) {
      if (!(err instanceof PhaseFailed) || attempt >= health.healAttempts) throw err;
      const wait = health.healBackoffMs[Math.min(attempt - 1, health.healBackoffMs.length - 1)] ?? 30_000;
      onAttemptFailed(attempt, wait);
      await sleep(wait);
    } finally {
      ctx.retryOverride = undefined;
    }
  }
}

async function repairOnce(
  ctx: PhaseContext,
  unit: Unit,
  prefix: string,
  drained: () => string[],
): Promise<void> {
  const plan = ctx.plan;
  const hosts = unit.hosts;
  await ctx.hostSteps(`${prefix}.container`, 'run_docker', hosts, { kind: 'container' });
  if (unit.kind !== 'proxy') {
    await ctx.hostSteps(
      `${prefix}.code`,
      'sync_code',
      syncCodeTargets(plan).filter((h) => hosts.includes(h)),
      { kind: 'syncCode' },
    );
    const ranktables = keptRanktables(ctx);
    if (ranktables) await distributeRanktables(ctx, `${prefix}.ranktable`, ranktables, hosts);
    // The unit's engines only: the others keep serving.
    await startServers(ctx, prefix, new Set(hosts), true);
  }
  await followProxy(ctx, `${prefix}.proxy`, drained(), unit.kind !== 'proxy');
}

/**
 * Reload the proxy so its upstreams follow health. For an engine unit's repair a proxy that
 * cannot be reloaded fails nothing (its own unit will be repaired in turn); for the proxy unit it
 * is the repair.
 */
export async function followProxy(
  ctx: PhaseContext,
  step: string,
  drained: string[],
  bestEffort: boolean,
): Promise<void> {
  const plan = ctx.plan;
  const reload = ctx.fanOut(
    step,
    'run_proxy',
    [plan.proxy.host],
    (h) => ctx.activities(h, 'run_proxy').ensureProxy({ ...proxyInput(plan, drained), acceptDown: true }),
    (r) => `${r.action}${drained.length > 0 ? `, ${drained.length} upstream(s) drained` : ''}`,
  );
  if (!bestEffort) return reload;
  await reload.catch((err: unknown) => {
    if (!(err instanceof PhaseFailed)) throw err;
  });
}

/** Behind a patch: runs started before the watch existed replay without it. */
export function watchEnabled(health: HealthOptions | undefined): health is HealthOptions {
  return health !== undefined && health.intervalMs > 0 && patched(HEALTH_WATCH);
}
