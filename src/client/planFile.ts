import { loadInventory } from '../inventory/load';
import { compactPlan, type CompactPlan } from '../plan/compact';
import { buildPlan } from '../plan/plan';
import type { Plan } from '../plan/types';

/**
 * Load an inventory and plan it. Reading the file is the client's (and the inventory loader's)
 * business; the planning itself is pure (src/plan has no file I/O).
 */
export function planFromFile(file: string, extraVars: Record<string, string> = {}): Plan {
  return buildPlan(loadInventory(file, extraVars));
}

/**
 * The Plan, and the compact form the cluster workflow is started with (the inventory it is
 * built from; the workflow rebuilds the same Plan from it, see src/plan/compact.ts).
 */
export function plansFromFile(
  file: string,
  extraVars: Record<string, string> = {},
): { plan: Plan; compact: CompactPlan } {
  const inventory = loadInventory(file, extraVars);
  return { plan: buildPlan(inventory), compact: compactPlan(inventory) };
}
