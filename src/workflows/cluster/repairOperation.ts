import type { Phase } from '../../shared/phases';
import type { ClusterEntity } from './clusterEntity';
import { PhaseFailed, type PhaseContext } from './context';
import { clusterUnits, unitsToHeal, type ClusterHealth, type Unit, type UnitHealth } from './health';
import { drainedUpstreams, followProxy, repairUnit, type RepairReport } from './healing';
import { recordRepair } from './metrics';
import type { OperationOutcome } from './operations';
import { runPhase } from './phaseRunner';
import type { ClusterEvent, HostFailure } from './types';

/**
 * The repair policy: every unit the health model says to heal gets one repair operation, queued
 * behind the operator's work (never two for the same unit).
 */
export function queueRepairs(cluster: ClusterEntity, health: ClusterHealth): void {
  for (const unit of unitsToHeal(health)) {
    if (!cluster.operations.hasRepair(unit.unit)) {
      cluster.operations.add({ kind: 'heal', unit: unit.unit }, repairTitle(unit));
    }
  }
}

function repairTitle(unit: UnitHealth): string {
  return `repair ${unit.unit} (${unit.state}${unit.cause ? `: ${unit.cause}` : ''})`;
}

/** Upstreams to drain, with `healed` counted as serving again. */
function drained(cluster: ClusterEntity, healed?: string): string[] {
  const health = cluster.state.status.health;
  const units = health?.units.filter((u) => u.unit !== healed);
  return drainedUpstreams(
    cluster.plan,
    health && units ? { ...health, units } : undefined,
    cluster.watch.observations,
  );
}

/**
 * Repair one unit that stopped serving (a heal operation): drain it from the proxy, rebuild it
 * as the deploy did, put it back. Attempts are bounded with backoff; when they run out the
 * cluster waits for the operator with the cause (`deploy retry` repairs the unit again).
 */
export async function repair(cluster: ClusterEntity, unitName: string): Promise<OperationOutcome> {
  const { state, plan } = cluster;
  const unit = clusterUnits(plan).find((u) => u.unit === unitName);
  const seen = state.status.health?.units.find((u) => u.unit === unitName);
  if (!unit || !seen || seen.state === 'serving') return { ok: true, failures: [] };
  const round = ++cluster.rounds.heal;
  const phase: Phase = unit.kind === 'proxy' ? 'run_proxy' : 'run_server';
  cluster.event({
    kind: 'heal',
    unit: unitName,
    result: 'started',
    message: `repairing ${unitName}: ${seen.cause ?? seen.state}`,
  });
  recordRepair(plan.cluster, unitName, 'started');
  for (const h of unit.hosts) state.markRunning(h, phase, Date.now());
  if (unit.kind !== 'proxy') await followProxy(cluster.ctx, `heal.${round}.drain`, drained(cluster), true);
  const title = repairTitle(seen);
  try {
    await runPhase(cluster, phase, (ctx) => repairAttempts(cluster, ctx, unit, round, title), 'healing');
  } finally {
    cluster.operations.describeRunning(title);
  }
  cluster.event({ kind: 'heal', unit: unitName, result: 'ok', message: `${unitName} repaired` });
  recordRepair(plan.cluster, unitName, 'ok');
  state.setStage('ready');
  return { ok: true, failures: [] };
}

/** The repair's attempts (healing.ts), each failure told to the operator as events. */
async function repairAttempts(
  cluster: ClusterEntity,
  ctx: PhaseContext,
  unit: Unit,
  round: number,
  title: string,
): Promise<void> {
  const health = cluster.options.health!;
  const unitName = unit.unit;
  const event = (result: ClusterEvent['result'], message: string) =>
    cluster.event({ kind: 'heal', unit: unitName, result, message });
  const report: RepairReport = {
    attemptFailed: (attempt, waitMs, failures) => {
      const next = waitMs > 0 ? `; next in ${Math.round(waitMs / 1000)} s` : '';
      event(
        'failed',
        `attempt ${attempt} of ${health.healAttempts} failed (${describeFailures(failures)})${next}`,
      );
      recordRepair(cluster.plan.cluster, unitName, 'failed');
      if (waitMs > 0) {
        cluster.operations.describeRunning(
          `${title} (attempt ${attempt + 1} of ${health.healAttempts} in ${Math.round(waitMs / 1000)} s)`,
        );
      }
    },
    waitingFor: (hosts, failures) => {
      const who = hosts.join(', ');
      event(
        'waiting',
        `repair of ${unitName} waits for ${who} to answer (${describeFailures(failures)}); no attempt spent`,
      );
      cluster.operations.describeRunning(`${title}: waiting for ${who} to answer`);
    },
    hostsBack: (hosts, waitedMs) => {
      event(
        'started',
        `${hosts.join(', ')} answer again after ${Math.round(waitedMs / 1000)} s; repairing ${unitName}`,
      );
      cluster.operations.describeRunning(title);
    },
  };
  try {
    await repairUnit(ctx, unit, round, health, () => drained(cluster, unitName), report);
  } catch (err) {
    if (err instanceof PhaseFailed) {
      // Out of attempts: the cluster now waits for the operator (`deploy retry`).
      cluster.event({
        kind: 'heal',
        unit: unitName,
        result: 'exhausted',
        message: `repair of ${unitName} gave up after ${health.healAttempts} attempt(s); waiting for the operator`,
      });
      recordRepair(cluster.plan.cluster, unitName, 'exhausted');
    }
    throw err;
  }
}

/** "d1 · run_docker: ConnectionError: host unreachable; …": host, step and error of each failure. */
function describeFailures(failures: HostFailure[]): string {
  if (failures.length === 0) return 'no step failed: the unit was not serving after the attempt';
  return failures.map((f) => `${f.host} · ${f.phase}: ${f.type}: ${f.message}`).join('; ');
}
