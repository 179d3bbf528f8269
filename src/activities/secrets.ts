import { inventoryPassword } from '../inventory/password';

/**
 * Resolve a password reference (`<inventory file>#<host>`) inside the worker. An environment
 * variable OMNI_DEPLOY_SSH_PASSWORD_<HOST> wins, for workers on machines without the inventory;
 * otherwise the worker re-reads the inventory file. The value never leaves this process: not in
 * activity results, not in errors, not in workflow history.
 */
export async function resolveInventoryPassword(ref: string): Promise<string> {
  const hash = ref.lastIndexOf('#');
  const file = ref.slice(0, hash);
  const host = ref.slice(hash + 1);
  const fromEnv = process.env[`OMNI_DEPLOY_SSH_PASSWORD_${host.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`];
  if (fromEnv !== undefined) return fromEnv;
  return inventoryPassword(file, host);
}
