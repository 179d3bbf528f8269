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
  const rollout = new Rollout(ctx, current, diff, `rollout.${round}`, progress);
  await rollout.addHosts();
  if (diff.globalRanktable || rollout.hostsWith('rewrite-ranktables').length > 0) {
    progress('ranktables rebuilt for the new layout and written to every engine host');
    await rebuildRanktables(ctx, `${rollout.prefix}.ranktable`);
  }
  // The new layout's upstreams; instances that are new (or removed) are out of it from now on.
  await rollout.reload('proxy.layout', true);
  if (diff.globalRanktable) {
    await rollout.newLayout();
  } else {
    await rollout.prefillInTurn();
    await rollout.decodeInTurn();
  }
  await rollout.replaceProxy();
  await rollout.reload('proxy.final', false);
  await rollout.removeHosts();
  await rollout.verify();
  return rollout.report;
}

/** The steps of one rollout, in the order rollOut runs them, and what they share. */
class Rollout {
  readonly report: RolloutReport = {};
  private readonly next: Plan;
  /** Units to roll (changed, not removed). */
  private readonly changed: UnitChange[];
  /**
   * Upstreams the proxy must not send to: new hosts until their unit is rolled (nothing runs
   * there yet), and the unit being rolled. Changed units keep serving on their old engines until
   * their turn.
   */
  private readonly drained: Set<string>;

  constructor(
    private readonly ctx: PhaseContext,
    private readonly current: Plan,
    private readonly diff: PlanDiff,
    readonly prefix: string,
    private readonly progress: (what: string) => void,
  ) {
    this.next = ctx.plan;
    this.changed = diff.units.filter((u) => u.change !== 'none' && u.change !== 'remove');
    this.drained = new Set(upstreamsOf(this.next, this.hostsWith('add-host')));
  }

  hostsWith(action: string): string[] {
    return this.diff.units.flatMap((u) =>
      u.hosts.filter((h) => h.actions.includes(action as never)).map((h) => h.host),
    );
  }

  /** Reload the proxy with the drained upstreams out of it. */
  reload(step: string, awaitDrain: boolean): Promise<void> {
    const { ctx, next, drained } = this;
    return ctx.fanOut(
      `${this.prefix}.${step}`,
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
  }

  /** New hosts get their containers and code before anything is restarted. */
  async addHosts(): Promise<void> {
    const { ctx, next, prefix } = this;
    const added = this.hostsWith('add-host');
    if (added.length === 0) return;
    this.progress(`new hosts ${added.join(', ')}: containers and code`);
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

  /**
   * A changed layout (an instance added or removed): every engine must agree on the global
   * ranktable and on kv_parallel_size, so a mix of old and new engines refuses each other's KV
   * transfers. They restart together, drained, and that window is the outage.
   */
  async newLayout(): Promise<void> {
    const engines = this.changed.filter((u) => u.kind !== 'proxy');
    this.progress(`new layout: ${engines.map((u) => u.unit).join(', ')} drained and restarted together`);
    const upstreams = engines.flatMap((u) => unitUpstreams(this.next, u.unit));
    for (const x of upstreams) this.drained.add(x);
    await this.reload('layout.drain', true);
    const outageFrom = Date.now();
    await rollUnits(this.ctx, `${this.prefix}.layout`, engines);
    for (const x of upstreams) this.drained.delete(x);
    await this.reload('layout.back', false);
    this.report.decodeOutageMs = Date.now() - outageFrom;
    this.progress(`new layout serving after ${(this.report.decodeOutageMs / 1000).toFixed(1)} s`);
  }

  /** Each changed prefill instance in turn: drained, rolled, back in the proxy. */
  async prefillInTurn(): Promise<void> {
    const prefill = this.changed.filter((u) => u.kind === 'prefill');
    for (const [i, u] of prefill.entries()) {
      this.progress(`prefill ${i + 1} of ${prefill.length}: ${u.unit} drained, restarting`);
      const upstreams = unitUpstreams(this.next, u.unit);
      for (const x of upstreams) this.drained.add(x);
      await this.reload(`${u.unit}.drain`, true);
      await rollUnit(this.ctx, this.prefix, u);
      for (const x of upstreams) this.drained.delete(x);
      this.progress(`prefill ${i + 1} of ${prefill.length}: ${u.unit} back in the proxy`);
      await this.reload(`${u.unit}.back`, false);
    }
  }

  /** The decode instance last: its window without decode is the outage, measured. */
  async decodeInTurn(): Promise<void> {
    for (const u of this.changed.filter((x) => x.kind === 'decode')) {
      this.progress(`${u.unit}: drained, restarting (the decode outage starts)`);
      const upstreams = unitUpstreams(this.next, u.unit);
      for (const x of upstreams) this.drained.add(x);
      await this.reload(`${u.unit}.drain`, true);
      const outageFrom = Date.now();
      await rollUnit(this.ctx, this.prefix, u);
      for (const x of upstreams) this.drained.delete(x);
      await this.reload(`${u.unit}.back`, false);
      this.report.decodeOutageMs = Date.now() - outageFrom;
      this.progress(`${u.unit}: back after ${(this.report.decodeOutageMs / 1000).toFixed(1)} s`);
    }
  }

  async replaceProxy(): Promise<void> {
    if (!this.changed.some((u) => u.kind === 'proxy')) return;
    const { ctx, next } = this;
    this.progress('proxy: container replaced');
    await ctx.fanOut(`${this.prefix}.proxy.container`, 'run_docker', [next.proxy.host], (h) =>
      ctx.activities(h, 'run_docker').ensureContainer(containerInput(next, h)),
    );
  }

  /** Hosts that left the cluster are cleaned up (as the Plan in force before knew them). */
  async removeHosts(): Promise<void> {
    const removed = this.hostsWith('remove-host');
    if (removed.length === 0) return;
    const { ctx, current } = this;
    this.progress(`hosts leaving the cluster: ${removed.join(', ')} cleaned up`);
    await ctx.fanOut(`${this.prefix}.remove`, 'clean_up', removed, (h) =>
      ctx.activities(h, 'clean_up').cleanupHost(cleanupInput(current, h)),
    );
  }

  async verify(): Promise<void> {
    const { ctx, next } = this;
    this.progress('verifying a completion through the proxy');
    const requestId = `omni-deploy-rollout-${uuid4()}`;
    await ctx.fanOut(`${this.prefix}.verify`, 'verify', [next.proxy.host], (h) =>
      ctx.activities(h, 'verify').verifyCompletion(verifyInput(next, requestId)),
    );
  }
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
