import { sleep } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { HostObservation } from '../../shared/observation';
import { PhaseFailed, type PhaseContext } from './context';
import type { ClusterHealth, Unit } from './health';
import { distributeRanktables, keptRanktables } from './ranktablePhase';
import { startServers } from './serverPhases';
import { proxyInput } from './serverSteps';
import { planHost, syncCodeTargets } from './steps';
import type { HealthOptions } from './types';

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
