import * as path from 'node:path';
import { planFromFile } from '../../src/client/planFile';
import type { Plan } from '../../src/plan/types';

const INVENTORIES = path.join(__dirname, '..', '..', 'inventories');

/** The settings the seed makes the operator fill in, as `-e` would give them. */
export const SEED_EXTRA_VARS = [
  'MODEL_PATH=/data/models/test-model',
  'DOCKER_IMAGE_ID=registry.local/omniinfer:test',
];
export const SEED_INVENTORY = path.join(INVENTORIES, '2P1D.yml');

/** The seed's 2P1D layout with the settings the seed makes the operator fill in. */
export function seedPlan(layout: '2P1D' | '4P1D' = '2P1D', extra: Record<string, string> = {}): Plan {
  return planFromFile(path.join(INVENTORIES, `${layout}.yml`), {
    ...Object.fromEntries(SEED_EXTRA_VARS.map((kv) => kv.split('=') as [string, string])),
    ...extra,
  });
}
