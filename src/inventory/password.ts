import { loadInventorySecret } from './load';

/**
 * The rendered `ansible_password` of one inventory host, with Ansible precedence. Only workers call
 * this, when they log in; the Plan carries a reference, never the value.
 */
export function inventoryPassword(file: string, host: string): string {
  return loadInventorySecret(file, host, 'ansible_password');
}
