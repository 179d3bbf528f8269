import { loadInventory } from '../inventory/load';
import { buildPlan } from './plan';
import type { Plan } from './types';

export { buildPlan } from './plan';
export { dockerRunArgv, containerSpecHash, SPEC_HASH_LABEL } from './dockerRun';
export { listeningPorts, decodeApiServers } from './ports';
export type * from './types';

/** Load an inventory and plan it; the file read is the inventory loader's, the planning is pure. */
export function planFromFile(file: string, extraVars: Record<string, string> = {}): Plan {
  return buildPlan(loadInventory(file, extraVars));
}
