import { ActivityCancellationType, patched, proxyActivities, sleep } from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { Plan } from '../../plan/types';
import type { HostObservation } from '../../shared/observation';
import { hostRef, RETRY_WHILE_THE_CLUSTER_LIVES } from '../common';
import { REPAIR_WAITS_FOR_HOST } from '../patches';
import { PhaseFailed, type PhaseContext } from './context';
import type { ClusterHealth, Unit } from './health';
import { distributeRanktables, keptRanktables } from './ranktablePhase';
import { startServers } from './serverPhases';
import { proxyInput } from './serverSteps';
import { planHost, syncCodeTargets } from './steps';
import type { HealthOptions, HostFailure } from './types';

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

/** What a repair tells the operator while it runs (repairOperation.ts turns these into events). */
export interface RepairReport {
  /** An attempt failed for `failures`; the next starts in `nextInMs` (none after the last). */
  attemptFailed(attempt: number, nextInMs: number, failures: HostFailure[]): void;
  /** The attempt failed only because `hosts` do not answer: the repair waits for them. */
  waitingFor(hosts: string[], failures: HostFailure[]): void;
  /** They answer again after `waitedMs`: the repair tries again, no attempt spent. */
  hostsBack(hosts: string[], waitedMs: number): void;
}

/**
 * Repair one unit as a whole, as the deploy built it: its containers (started when stopped, made
 * when gone), its code (synced; installed again into a new container), its ranktables (put back
 * where lost), its engines (stopped and relaunched in the readiness-gated order), then the proxy
 * with its upstreams following health. An attempt that failed only because unit hosts do not
 * answer waits until they do and is tried again without being counted (a powered-off host is
 * waited for, however long); other failures spend attempts, with backoff, and after the last one
 * the failure propagates (the cluster waits for the operator).
 */
export async function repairUnit(
  ctx: PhaseContext,
  unit: Unit,
  round: number,
  health: HealthOptions,
  drained: () => string[],
  report: RepairReport,
): Promise<void> {
  let waits = 0;
  for (let attempt = 1; ; attempt++) {
    ctx.retryOverride = REPAIR_STEP_RETRY;
    const startedAt = Date.now();
    try {
      // Step names must not repeat (a finished step is skipped): a try after a wait gets its own.
      await repairOnce(ctx, unit, `heal.${round}.${attempt}${waits > 0 ? `.w${waits}` : ''}`, drained);
      return;
    } catch (err) {
      if (!(err instanceof PhaseFailed)) throw err;
      const failures = failuresSince(ctx, unit, startedAt);
      const silent = [...new Set(failures.filter((f) => f.type === 'ConnectionError').map((f) => f.host))];
      if (
        silent.length > 0 &&
        failures.every((f) => f.type === 'ConnectionError') &&
        patched(REPAIR_WAITS_FOR_HOST)
      ) {
        ctx.retryOverride = undefined;
        report.waitingFor(silent, failures);
        const waitedFrom = Date.now();
        await awaitHosts(ctx, silent, health, `heal.${round}.${attempt}.wait${++waits}`);
        report.hostsBack(silent, Date.now() - waitedFrom);
        attempt--;
        continue;
      }
      if (attempt >= health.healAttempts) {
        report.attemptFailed(attempt, 0, failures);
        throw err;
      }
      const wait = health.healBackoffMs[Math.min(attempt - 1, health.healBackoffMs.length - 1)] ?? 30_000;
      report.attemptFailed(attempt, wait, failures);
      await sleep(wait);
    } finally {
      ctx.retryOverride = undefined;
    }
  }
}

/** The unit hosts' steps that failed since `since` (this attempt), whatever their phase. */
function failuresSince(ctx: PhaseContext, unit: Unit, since: number): HostFailure[] {
  const table = ctx.state.status.table;
  return unit.hosts.flatMap((host) =>
    Object.entries(table[host] ?? {}).flatMap(([phase, c]) =>
      c?.state === 'failed' && c.error && (c.startedAt ?? 0) >= since
        ? [{ host, phase: phase as HostFailure['phase'], ...c.error }]
        : [],
    ),
  );
}

/** Until every host of `hosts` answers SSH again (one awaitHostAnswers each, at once). */
async function awaitHosts(
  ctx: PhaseContext,
  hosts: string[],
  health: HealthOptions,
  step: string,
): Promise<void> {
  const plan = ctx.plan;
  await Promise.all(
    hosts.map((name) => {
      const { awaitHostAnswers } = proxyActivities<Activities>({
        activityId: `${name}/wait-for-host/${step}`,
        summary: `${name} · waiting for the host to answer`,
        // As long as it takes: a host can stay off for hours. Heartbeats tell a lost worker.
        startToCloseTimeout: '30 days',
        heartbeatTimeout: ctx.options.activity.heartbeatTimeout,
        retry: RETRY_WHILE_THE_CLUSTER_LIVES,
        cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      });
      const host = plan.hosts.find((h) => h.name === name)!;
      const pollMs = Math.min(Math.max(health.intervalMs, 1000), 10_000);
      return awaitHostAnswers({ target: hostRef(plan, host), pollMs });
    }),
  );
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
