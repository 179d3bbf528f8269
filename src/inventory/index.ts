export { loadInventory, inventoryAddresses, parseExtraVarValue } from './load';
export { InventoryError, formatProblem, EXTRA_VARS_FILE, type InventoryProblem } from './errors';
export type { Inventory, InventoryHost, InventoryLogin, PrefillMembership, DecodeMembership } from './types';
