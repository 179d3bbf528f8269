import type { Inventory } from '../inventory/types';
import { buildPlan } from './plan';
import type { Plan } from './types';

/**
 * The Plan as the cluster workflow's input carries it: the validated inventory it is built from,
 * and nothing derived. `buildPlan` is pure and deterministic, so the workflow regenerates the
 * whole Plan (containers, ports, launch and ranktable layouts, proxy upstreams, the seed's facts)
 * from it, byte for byte what `deploy plan --json` prints; history still records exactly what was
 * deployed, at a tenth of the size. A 512-host × 16-device Plan is ~1.9 MB of JSON — near
 * Temporal's 2 MB payload limit for the input alone, and carried again by every continue-as-new —
 * while its inventory is ~160 KB (test/unit/scaleSizes.test.ts).
 *
 * Because running workflows rebuild their Plan from this on replay, a change to `buildPlan` that
 * changes the Plan of an existing inventory changes what running workflows do: it needs a new
 * `planVersion` (or a patch) like any other workflow change. test/unit/planGolden.test.ts pins
 * the Plans of the shipped layouts, and test/unit/scaleSizes.test.ts that expanding gives the
 * same Plan as planning.
 */
export interface CompactPlan {
  planVersion: 2;
  cluster: string;
  inventory: Inventory;
}

/** What the workflow accepts: a full Plan (recorded by older clients) or a compact one. */
export type PlanInput = Plan | CompactPlan;

export function compactPlan(inventory: Inventory): CompactPlan {
  return { planVersion: 2, cluster: inventory.settings.cluster_name, inventory };
}

export function isCompactPlan(plan: PlanInput): plan is CompactPlan {
  return (plan as { planVersion?: unknown })?.planVersion === 2;
}

/** The whole Plan: rebuilt from a compact one, a full one as it is. */
export function expandPlan(plan: PlanInput): Plan {
  return isCompactPlan(plan) ? buildPlan(plan.inventory) : plan;
}
