import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The checkout: the nearest folder above this file that holds package-lock.json. The same file
 * runs from src/shared (TypeScript through tsx) and from dist/src/shared (`npm run build`), so a
 * fixed number of `..` would be right for only one of them.
 */
export const PROJECT_ROOT = findProjectRoot(__dirname);

function findProjectRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package-lock.json'))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, '..', '..');
  }
}

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
