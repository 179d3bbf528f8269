import { uuid4 } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { PhaseContext } from './context';
import type { PlanDiff, UnitChange } from './diff';
import { clusterUnits } from './health';
import { rebuildRanktables } from './ranktablePhase';
import { startServers } from './serverPhases';
import { proxyInput, verifyInput } from './serverSteps';
import { cleanupInput, containerInput, planHost, syncCodeInput, syncCodeTargets } from './steps';

/**
 * A change to a running cluster, applied unit by unit so that it keeps serving: each changed
 * prefill instance in turn is drained from the proxy (a graceful reload; in-flight requests
 * finish), changed, brought back readiness-gated and re-added; the decode instance goes last —
 * the seed model has one, so its window without decode is the outage, measured; the proxy's own
 * container and hosts that left the cluster come after. `ctx.plan` is the target Plan; `current`
 * the one in force before. Every step is a named fan-out, so a retry after a failure continues
 * where the rollout stopped.
 */

export interface RolloutReport {
  /** Drain of the decode instance → it serves again (absent when decode did not change). */
  decodeOutageMs?: number;
}

/** How long the old proxy workers get to finish their requests after a drain. */
const DRAIN_WAIT_MS = 60_000;

export async function rollOut(
  ctx: PhaseContext,
  current: Plan,
  diff: PlanDiff,
  round: number,
  progress: (what: string) => void,
): Promise<RolloutReport> {
  const next = ctx.plan;
  const prefix = `rollout.${round}`;
  const report: RolloutReport = {};
  const changed = diff.units.filter((u) => u.change !== 'none' && u.change !== 'remove');
  const hostsWith = (action: string) =>
    diff.units.flatMap((u) => u.hosts.filter((h) => h.actions.includes(action as never)).map((h) => h.host));
  // Upstreams the proxy must not send to: new hosts until their unit is rolled (nothing runs
  // there yet), and the unit being rolled. Changed units keep serving on their old engines until
  // their turn.
  const drained = new Set(upstreamsOf(next, hostsWith('add-host')));
  const reload = (step: string, awaitDrain: boolean) =>
    ctx.fanOut(
      `${prefix}.${step}`,
      'run_proxy',
      [next.proxy.host],
      (h) =>
        ctx.activities(h, 'run_proxy').ensureProxy({
          ...proxyInput(next, [...drained].sort()),
          acceptDown: true,
          ...(awaitDrain && { awaitDrainMs: DRAIN_WAIT_MS }),
        }),
      (r) => `${r.action}${drained.size > 0 ? `, ${drained.size} upstream(s) drained` : ''}`,
    );

  const added = hostsWith('add-host');
  if (added.length > 0) {
    progress(`new hosts ${added.join(', ')}: containers and code`);
    await ctx.fanOut(`${prefix}.add.container`, 'run_docker', added, (h) =>
      ctx.activities(h, 'run_docker').ensureContainer(containerInput(next, h)),
    );
    await ctx.fanOut(
      `${prefix}.add.code`,
      'sync_code',
      syncCodeTargets(next).filter((h) => added.includes(h)),
      (h) => ctx.executorActivities(h, 'sync_code').syncCode(syncCodeInput(next, h)),
    );
  }
  if (diff.globalRanktable || hostsWith('rewrite-ranktables').length > 0) {
    progress('ranktables rebuilt for the new layout and written to every engine host');
    await rebuildRanktables(ctx, `${prefix}.ranktable`);
  }
  // The new layout's upstreams; instances that are new (or removed) are out of it from now on.
  await reload('proxy.layout', true);

  if (diff.globalRanktable) {
    // A changed layout (an instance added or removed): every engine must agree on the global
    // ranktable and on kv_parallel_size, so a mix of old and new engines refuses each other's KV
    // transfers. They restart together, drained, and that window is the outage.
    const engines = changed.filter((u) => u.kind !== 'proxy');
    progress(`new layout: ${engines.map((u) => u.unit).join(', ')} drained and restarted together`);
    const upstreams = engines.flatMap((u) => unitUpstreams(next, u.unit));
    for (const x of upstreams) drained.add(x);
    await reload('layout.drain', true);
    const outageFrom = Date.now();
    await rollUnits(ctx, `${prefix}.layout`, engines);
    for (const x of upstreams) drained.delete(x);
    await reload('layout.back', false);
    report.decodeOutageMs = Date.now() - outageFrom;
    progress(`new layout serving after ${(report.decodeOutageMs / 1000).toFixed(1)} s`);
  }

  const prefill = diff.globalRanktable ? [] : changed.filter((u) => u.kind === 'prefill');
  for (const [i, u] of prefill.entries()) {
    progress(`prefill ${i + 1} of ${prefill.length}: ${u.unit} drained, restarting`);
    const upstreams = unitUpstreams(next, u.unit);
    for (const x of upstreams) drained.add(x);
    await reload(`${u.unit}.drain`, true);
    await rollUnit(ctx, prefix, u);
    for (const x of upstreams) drained.delete(x);
    progress(`prefill ${i + 1} of ${prefill.length}: ${u.unit} back in the proxy`);
    await reload(`${u.unit}.back`, false);
  }

  for (const u of diff.globalRanktable ? [] : changed.filter((x) => x.kind === 'decode')) {
    progress(`${u.unit}: drained, restarting (the decode outage starts)`);
    const upstreams = unitUpstreams(next, u.unit);
    for (const x of upstreams) drained.add(x);
    await reload(`${u.unit}.drain`, true);
    const outageFrom = Date.now();
    await rollUnit(ctx, prefix, u);
    for (const x of upstreams) drained.delete(x);
    await reload(`${u.unit}.back`, false);
    report.decodeOutageMs = Date.now() - outageFrom;
    progress(`${u.unit}: back after ${(report.decodeOutageMs / 1000).toFixed(1)} s`);
  }

  const proxyUnit = changed.find((u) => u.kind === 'proxy');
  if (proxyUnit) {
    progress('proxy: container replaced');
    await ctx.fanOut(`${prefix}.proxy.container`, 'run_docker', [next.proxy.host], (h) =>
      ctx.activities(h, 'run_docker').ensureContainer(containerInput(next, h)),
    );
  }
  await reload('proxy.final', false);

  const removed = hostsWith('remove-host');
  if (removed.length > 0) {
    progress(`hosts leaving the cluster: ${removed.join(', ')} cleaned up`);
    await ctx.fanOut(`${prefix}.remove`, 'clean_up', removed, (h) =>
      ctx.activities(h, 'clean_up').cleanupHost(cleanupInput(current, h)),
    );
  }

  progress('verifying a completion through the proxy');
  const requestId = `omni-deploy-rollout-${uuid4()}`;
  await ctx.fanOut(`${prefix}.verify`, 'verify', [next.proxy.host], (h) =>
    ctx.activities(h, 'verify').verifyCompletion(verifyInput(next, requestId)),
  );
  return report;
}

/** One unit: its changed containers replaced (code installed into them), its engines relaunched. */
function rollUnit(ctx: PhaseContext, prefix: string, u: UnitChange): Promise<void> {
  return rollUnits(ctx, `${prefix}.${u.unit}`, [u]);
}

/** Units together: containers, code, then every engine in the readiness-gated order. */
async function rollUnits(ctx: PhaseContext, prefix: string, units: UnitChange[]): Promise<void> {
  const next = ctx.plan;
  const hosts = units.flatMap((u) => clusterUnits(next).find((x) => x.unit === u.unit)!.hosts);
  const recreate = units.flatMap((u) =>
    u.hosts.filter((h) => h.actions.includes('recreate-container')).map((h) => h.host),
  );
  await ctx.fanOut(`${prefix}.container`, 'run_docker', recreate, (h) =>
    ctx.activities(h, 'run_docker').ensureContainer(containerInput(next, h)),
  );
  await ctx.fanOut(
    `${prefix}.code`,
    'sync_code',
    syncCodeTargets(next).filter((h) => recreate.includes(h)),
    (h) => ctx.executorActivities(h, 'sync_code').syncCode(syncCodeInput(next, h)),
  );
  // Whole units: a Ray group or a data-parallel group starts again together.
  await startServers(ctx, prefix, new Set(hosts), true);
}

/** The API servers of some hosts, as the proxy names its upstreams. */
function upstreamsOf(plan: Plan, hosts: readonly string[]): string[] {
  return hosts
    .filter((h) => plan.hosts.some((x) => x.name === h))
    .flatMap((h) => {
      const host = planHost(plan, h);
      return host.apiServers.map((s) => `${host.address}:${s.port}`);
    });
}

function unitUpstreams(plan: Plan, unit: string): string[] {
  return upstreamsOf(plan, clusterUnits(plan).find((u) => u.unit === unit)?.hosts ?? []);
}
