import {
  ActivityCancellationType,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  sleep,
} from '@temporalio/workflow';
import type { Activities } from '../../activities';
import type { ProbeHost, WatchHealthInput, WatchHealthResult } from '../../activities/types';
import type { Plan } from '../../plan/types';
import type { HostObservation } from '../../shared/observation';
import { hostRef, RETRY_WHILE_THE_CLUSTER_LIVES } from '../common';
import { HEALTH_WATCH } from '../patches';
import type { ClusterEntity } from './clusterEntity';
import { assessHealth, type UnitHealth } from './health';
import { recordHealthMetrics } from './metrics';
import { queueRepairs } from './repairOperation';
import type { HealthOptions } from './types';

/** What the health watch probes on every host: its container, its API servers, the proxy. */
export function probeHosts(plan: Plan): ProbeHost[] {
  return plan.hosts.map((h) => ({
    target: hostRef(plan, h),
    cli: h.container.cli,
    container: h.container.name,
    address: h.address,
    unit: h.instance,
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
    // The watch itself never fails (an unreachable host is an observation).
    retry: RETRY_WHILE_THE_CLUSTER_LIVES,
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

/** Behind a patch: runs started before the watch existed replay without it. */
export function watchEnabled(health: HealthOptions | undefined): health is HealthOptions {
  return health !== undefined && health.intervalMs > 0 && patched(HEALTH_WATCH);
}

/**
 * The health watch of a ready cluster: while nothing else goes on it runs the watchHealth
 * activity, judges what it saw (health.ts), tells the operator what changed and queues repairs
 * (repairOperation.ts). An operation or a continue-as-new makes it step aside (its activity is
 * cancelled); it starts again at the next idle point.
 */
export class HealthWatch {
  private scope: CancellationScope | undefined;
  private seq = 0;
  private knownSignature = '';
  /** What the last watch saw (not carried: the first watch of a run reports at once). */
  observations: HostObservation[] = [];
  /** Called after each result the watch judged (upgrade.ts looks for an idle point there). */
  afterResult: () => void = () => undefined;

  constructor(private readonly cluster: ClusterEntity) {}

  /** Starts the watch's loop if this cluster has one; it ends when the cluster is cleaned. */
  start(): void {
    const health = this.cluster.options.health;
    if (!watchEnabled(health)) return;
    void this.loop(health).catch((err: unknown) => {
      if (!isCancellation(err)) log.error(`health watch stopped: ${String(err)}`);
    });
  }

  /** Cancel the running watch activity (it starts again once the cluster is idle). */
  stepAside(): void {
    this.scope?.cancel();
  }

  /** Whether no watch activity runs now. */
  get stopped(): boolean {
    return this.scope === undefined;
  }

  /** The watch runs while the cluster is ready and nothing else is going on. */
  private watchable(): boolean {
    const { stage } = this.cluster.state.status;
    const { operations, continuingAsNew, upgradeTo } = this.cluster;
    return (
      stage === 'cleaned' ||
      (stage === 'ready' && !operations.hasWork && !continuingAsNew && upgradeTo === undefined)
    );
  }

  private async loop(health: HealthOptions): Promise<void> {
    for (;;) {
      await condition(() => this.watchable());
      if (this.cluster.state.status.stage === 'cleaned') return;
      const scope = new CancellationScope();
      this.scope = scope;
      let result: WatchHealthResult | undefined;
      try {
        result = await scope.run(() =>
          watchHealth(
            this.cluster.plan,
            health,
            this.knownSignature,
            this.cluster.options.activity.heartbeatTimeout,
            ++this.seq,
          ),
        );
      } catch (err) {
        // Cancelled to make way for an operation or a continue-as-new: start again when idle.
        if (!isCancellation(err)) {
          log.warn(`health watch failed: ${String(err)}`);
          await sleep(health.intervalMs);
        }
      } finally {
        this.scope = undefined;
      }
      if (result) this.noteHandover(result);
      // A watch that returned before its first round (its worker shut down) saw nothing.
      if (result && result.rounds > 0) this.observe(result, health);
      if (result) this.afterResult();
    }
  }

  /**
   * A worker restart moves the watch, it does not fail it: the watch returns when its worker shuts
   * down (or, its worker gone without a word, at once on its retry), and the next one runs on
   * whichever worker polls.
   */
  private noteHandover(result: WatchHealthResult): void {
    const why =
      result.reason === 'worker-shutdown'
        ? 'its worker shut down'
        : result.reason === 'retry'
          ? 'its worker stopped answering'
          : undefined;
    if (why)
      this.cluster.event(
        { kind: 'health', message: `health watch moved to a new worker (${why})` },
        result.observedAt,
      );
  }

  /** Judge what the watch saw, tell the operator what changed, and queue repairs. */
  private observe(result: WatchHealthResult, health: HealthOptions): void {
    const { state, plan } = this.cluster;
    this.knownSignature = result.signature;
    this.observations = result.observations;
    const before = state.status.health;
    const after = assessHealth(plan, result.observations, before, result.observedAt);
    state.setHealth(after);
    for (const unit of after.units) {
      const previous = before?.units.find((u) => u.unit === unit.unit);
      const was = previous?.state;
      if (was === undefined && unit.state === 'serving') continue;
      // A unit that stays down for another reason (unreachable → container stopped) is news too;
      // the hosts' conditions tell, not the free text of their errors.
      if (was === unit.state && previous && conditions(previous) === conditions(unit)) continue;
      this.cluster.event(
        {
          kind: 'health',
          unit: unit.unit,
          message: `${unit.unit} ${unit.state}${unit.cause ? `: ${unit.cause}` : ''}`,
        },
        result.observedAt,
      );
    }
    if (before && before.state !== after.state) {
      this.cluster.event(
        { kind: 'health', message: `cluster ${after.state}${after.cause ? `: ${after.cause}` : ''}` },
        result.observedAt,
      );
    }
    recordHealthMetrics(plan.cluster, after);
    if (health.heal && state.status.healing === 'on') queueRepairs(this.cluster, after);
  }
}

/** "d0:ok d1:unreachable": what is wrong with each host of a unit, to tell a change of cause. */
function conditions(unit: UnitHealth): string {
  return unit.hosts.map((h) => `${h.host}:${h.condition}`).join(' ');
}
