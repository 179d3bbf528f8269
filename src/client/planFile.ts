import { loadInventory } from '../inventory/load';
import { buildPlan } from '../plan/plan';
import type { Plan } from '../plan/types';

/**
 * Load an inventory and plan it. Reading the file is the client's (and the inventory loader's)
 * business; the planning itself is pure (src/plan has no file I/O).
 */
export function planFromFile(file: string, extraVars: Record<string, string> = {}): Plan {
  return buildPlan(loadInventory(file, extraVars));
}
