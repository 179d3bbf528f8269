import type { PasswordRef, SecretResolver } from '../remote';

/**
 * Resolve a password reference inside the worker. An environment variable
 * OMNI_DEPLOY_SSH_PASSWORD_<HOST> wins, for workers on machines without the inventory; otherwise
 * the worker re-reads the inventory file. The value never leaves this process: not in activity
 * results, not in errors, not in workflow history.
 */
export async function resolveInventoryPassword(ref: PasswordRef): Promise<string> {
  const fromEnv = process.env[passwordVariable(ref.inventoryHost)];
  if (fromEnv !== undefined) return fromEnv;
  // The inventory loader (yaml, nunjucks, zod: a fifth of a worker's start-up) only for a worker
  // that logs in with a password; key hosts never need it.
  const { inventoryPassword } = require('../inventory/password') as typeof import('../inventory/password');
  return inventoryPassword(ref.inventoryFile, ref.inventoryHost);
}

/** OMNI_DEPLOY_SSH_PASSWORD_P0 for host p0 (anything but letters and digits becomes `_`). */
export function passwordVariable(inventoryHost: string): string {
  return `OMNI_DEPLOY_SSH_PASSWORD_${inventoryHost.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export const inventorySecrets: SecretResolver = { resolve: resolveInventoryPassword };
