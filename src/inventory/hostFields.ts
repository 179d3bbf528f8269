import type { z } from 'zod';
import type { Group } from './types';
import { address, deviceList, executorPath, int, nonEmpty, oneOf, port, text } from './schemas';

/** Ansible's own connection variables that omni-deploy reads (or accepts and ignores). */
export const CONNECTION_VARS = [
  'ansible_host',
  'ansible_port',
  'ansible_user',
  'ansible_password',
  'ansible_ssh_private_key_file',
  // omni-deploy always verifies host keys (known_hosts_file, host_key_policy); the seed's
  // options that switch that off are accepted so its inventories load, and ignored.
  'ansible_ssh_common_args',
  // Nothing runs Python on the targets.
  'ansible_python_interpreter',
] as const;

/** The seed's `all.vars` that exist only to feed the port templates. */
export const SEED_TEMPLATE_VARS = ['global_port_base', 'base_api_port', 'proxy_port', 'port_offset'] as const;

export const HOST_FIELDS = [
  'node_rank',
  'kv_rank',
  'node_port',
  'api_port',
  'host_ip',
  'ascend_rt_visible_devices',
  'role',
] as const;

export type HostField = (typeof CONNECTION_VARS)[number] | (typeof HOST_FIELDS)[number];

export const isHostField = (name: string): name is HostField =>
  (CONNECTION_VARS as readonly string[]).includes(name) || (HOST_FIELDS as readonly string[]).includes(name);

const schemas: Record<HostField, z.ZodType<unknown>> = {
  ansible_host: address(),
  ansible_port: port(),
  ansible_user: nonEmpty(),
  ansible_password: nonEmpty(),
  ansible_ssh_private_key_file: executorPath(),
  ansible_ssh_common_args: text(),
  ansible_python_interpreter: text(),
  node_rank: int(0),
  kv_rank: int(0),
  node_port: port(),
  api_port: port(),
  host_ip: address(),
  ascend_rt_visible_devices: deviceList(),
  role: text(),
};

// role does not apply to P hosts (never validated there).
const roleSchema: Partial<Record<Group, z.ZodType<unknown>>> = {
  D: oneOf(['M', 'S'] as const),
  C: oneOf(['C'] as const),
};

export function fieldSchema(field: HostField, group: Group): z.ZodType<unknown> {
  return (field === 'role' ? roleSchema[group] : undefined) ?? schemas[field];
}

const COMMON: readonly HostField[] = [...CONNECTION_VARS, 'node_rank', 'node_port'];

/** Which fields mean something for a host of each group. */
export const APPLICABLE: Record<Group, ReadonlySet<HostField>> = {
  P: new Set([...COMMON, 'kv_rank', 'api_port', 'host_ip', 'ascend_rt_visible_devices']),
  D: new Set([...COMMON, 'api_port', 'host_ip', 'ascend_rt_visible_devices', 'role']),
  C: new Set([...COMMON, 'role']),
};

/** Fields the seed's playbook needs on every host of a group (D's host_ip may be replaced by role). */
export const REQUIRED: Record<Group, readonly HostField[]> = {
  P: [
    'ansible_host',
    'ansible_user',
    'node_rank',
    'kv_rank',
    'node_port',
    'api_port',
    'host_ip',
    'ascend_rt_visible_devices',
  ],
  D: ['ansible_host', 'ansible_user', 'node_rank', 'node_port', 'api_port', 'ascend_rt_visible_devices'],
  C: ['ansible_host', 'ansible_user', 'node_port'],
};

export const FIELD_MEANING: Partial<Record<HostField, string>> = {
  ansible_host: 'the address omni-deploy connects to',
  ansible_user: 'the SSH user',
  node_rank: "the host's rank inside its instance, 0 for the master",
  kv_rank: 'the index of its prefill instance',
  node_port: 'the DP master port; on the proxy its listen port',
  api_port: 'the base API server port',
  host_ip: "the address of its instance's master",
  ascend_rt_visible_devices: 'its NPU ids, like "0,1,2,3"',
};
