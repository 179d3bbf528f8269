import * as path from 'node:path';

/** The checkout (or installed package) root: two levels above this file. */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/**
 * Where omni-deploy keeps its local state (the dev server's database, pid files, logs of
 * background processes, the simulated cluster's keys). Git-ignored inside a checkout.
 */
export function stateDir(): string {
  return process.env.OMNI_DEPLOY_STATE_DIR ?? path.join(PROJECT_ROOT, '.state');
}

/** The Temporal CLI that `scripts/build-temporal.sh` builds. */
export function temporalCliPath(): string {
  return process.env.TEMPORAL_CLI_PATH ?? path.join(PROJECT_ROOT, '.tools', 'bin', 'temporal');
}
