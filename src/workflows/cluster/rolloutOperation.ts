import type { Plan } from '../../plan/types';
import type { ClusterEntity } from './clusterEntity';
import { diffPlans } from './diff';
import type { OperationOutcome } from './operations';
import { runPhase } from './phaseRunner';
import { clusterEndpoints } from './phases';
import { rollOut } from './rollout';

/**
 * Apply a Plan to the running cluster unit by unit (rollout.ts): a rollout, or a rollback to the
 * Plan in force before the last one. The table gets rows for new hosts at once and loses removed
 * ones once they are cleaned; the Plan in force before becomes the one `deploy rollback` returns
 * to. A rollout that fails waits for the operator like any phase; `deploy rollback` then reverts
 * it to the Plan it started from, by the same kind of rollout.
 */
export async function applyPlan(
  cluster: ClusterEntity,
  next: Plan,
  rollback: boolean,
): Promise<OperationOutcome> {
  const { state, ctx } = cluster;
  const current = cluster.plan;
  const diff = diffPlans(current, next);
  const verb = rollback ? 'rollback' : 'rollout';
  if (!diff.changed) {
    ctx.plan = next;
    return { ok: true, failures: [], changed: false };
  }
  const round = ++cluster.rounds.restart;
  const units = diff.units.filter((u) => u.change !== 'none').map((u) => `${u.unit} ${u.change}`);
  cluster.event({ kind: 'rollout', message: `${verb} started: ${units.join(', ')}` });
  state.setHosts([...new Set([...current.hosts, ...next.hosts].map((h) => h.name))]);
  ctx.plan = next;
  state.setEndpoints(clusterEndpoints(next));
  const title = `${verb} (${units.join(', ')})`;
  let decodeOutageMs: number | undefined;
  const end = await runPhase(
    cluster,
    'run_server',
    async (c) => {
      const report = await rollOut(c, current, diff, round, (what) =>
        cluster.operations.describeRunning(`${title}: ${what}`),
      );
      decodeOutageMs = report.decodeOutageMs;
    },
    'rolling-out',
  );
  if (end === 'abandoned') return revert(cluster, current, verb);
  state.setHosts(next.hosts.map((h) => h.name));
  state.setPreviousPlan(current);
  const outage =
    decodeOutageMs === undefined ? '' : `; decode outage ${(decodeOutageMs / 1000).toFixed(1)} s`;
  cluster.event({ kind: 'rollout', result: 'ok', message: `${verb} done${outage}` });
  state.setStage('ready');
  return { ok: true, failures: [], changed: true, ...(decodeOutageMs !== undefined && { decodeOutageMs }) };
}

/**
 * `deploy rollback` while a rollout waited: back to the Plan it started from (units not reached
 * yet are already there and only restart); the rollback's caller hears the revert's outcome.
 */
async function revert(cluster: ClusterEntity, to: Plan, verb: string): Promise<OperationOutcome> {
  cluster.event({
    kind: 'rollout',
    result: 'failed',
    message: `${verb} abandoned by the operator; rolling back`,
  });
  const back = await applyPlan(cluster, to, true);
  cluster.operator.reportReverted({
    ok: back.ok,
    changed: true,
    failures: back.failures,
    ...(back.decodeOutageMs !== undefined && { decodeOutageMs: back.decodeOutageMs }),
  });
  return back;
}
