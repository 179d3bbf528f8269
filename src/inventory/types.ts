import type { DeploySettings, Group } from '../plan/types';

export type HostAuth = { method: 'key'; privateKeyFile: string } | { method: 'password' };

/** One inventory host with its fields rendered and validated (seed names in comments). */
export interface InventoryHost {
  name: string;
  group: Group;
  /** ansible_host */
  address: string;
  /** ansible_port */
  sshPort: number;
  /** ansible_user */
  user: string;
  auth: HostAuth;
  nodeRank: number;
  nodePort: number;
  /** P only. */
  kvRank: number | null;
  /** P and D. */
  apiPort: number | null;
  /** host_ip: the address of the instance's master (P and D; may be absent on D with `role`). */
  hostIp: string | null;
  /** ascend_rt_visible_devices */
  devices: number[];
  /** The older decode convention: M = master, S = slave. */
  legacyRole: 'M' | 'S' | null;
}

export interface PrefillMembership {
  kvRank: number;
  /** Host names, master first. */
  hosts: string[];
}

export interface DecodeMembership {
  hosts: string[];
}

/** A validated inventory: hosts, who belongs to which instance, and the settings. */
export interface Inventory {
  /** Absolute path of the file read. */
  file: string;
  settings: DeploySettings;
  /** In inventory order: P, then D, then C. */
  hosts: InventoryHost[];
  /** Ordered by kv_rank. */
  prefill: PrefillMembership[];
  decode: DecodeMembership[];
  proxy: string;
}
