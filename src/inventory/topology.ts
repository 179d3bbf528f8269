import { describePorts, listeningPorts } from './ports';
import type { Group } from './types';
import type { HostField } from './hostFields';
import type { DecodeMembership, InventoryHost, PrefillMembership } from './types';

export type FieldProblem = (host: InventoryHost, field: HostField, message: string) => void;

export interface Topology {
  prefill: PrefillMembership[];
  decode: DecodeMembership[];
}

/**
 * Who is whose master, checked across hosts. Masters are found the seed's way: the host whose
 * ansible_host equals the host_ip its instance shares, or (older decode inventories) role M.
 */
export function resolveTopology(
  hosts: readonly InventoryHost[],
  incomplete: ReadonlySet<Group>,
  problem: FieldProblem,
): Topology {
  // Checks that need every host of a group (a missing master, a kv_rank gap) stay quiet while a
  // host of that group has invalid fields: the cause is already reported there.
  const quietIfIncomplete =
    (group: Group): FieldProblem =>
    (...args) => {
      if (!incomplete.has(group)) problem(...args);
    };
  const prefill = resolvePrefill(
    hosts.filter((h) => h.group === 'P'),
    problem,
    quietIfIncomplete('P'),
  );
  const decodeHosts = hosts.filter((h) => h.group === 'D');
  const decode =
    decodeHosts.length > 0 ? resolveDecode(decodeHosts, problem, quietIfIncomplete('D')) : undefined;
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const members = [
    ...prefill.flatMap((i) => i.hosts),
    ...(decode?.hosts ?? []),
    ...hosts.filter((h) => h.group === 'C').map((h) => h.name),
  ];
  checkPorts(
    members.map((n) => byName.get(n)!),
    new Set([...prefill.map((i) => i.hosts[0]!), ...(decode ? [decode.hosts[0]!] : [])]),
    problem,
  );
  return { prefill, decode: decode ? [decode] : [] };
}

/** Master first, the others in inventory order (the seed's DECODE_SERVER_IP_LIST rule). */
function masterFirst(master: InventoryHost, members: readonly InventoryHost[]): string[] {
  return [master.name, ...members.filter((h) => h !== master).map((h) => h.name)];
}

function pickMaster(
  members: readonly InventoryHost[],
  masterAddress: string,
  kind: string,
  missing: FieldProblem,
  problem: FieldProblem,
): InventoryHost | undefined {
  const masters = members.filter((h) => h.address === masterAddress);
  if (masters.length === 0) {
    for (const h of members) {
      missing(
        h,
        'host_ip',
        `host_ip ${masterAddress} is no ${kind} host's ansible_host: the master of ${h.name}'s instance is missing`,
      );
    }
    return undefined;
  }
  for (const extra of masters.slice(1)) {
    problem(
      extra,
      'ansible_host',
      `${extra.name} and ${masters[0]!.name} both have ansible_host ${masterAddress} = host_ip: an instance has one master`,
    );
  }
  return masters[0];
}

function checkNodeRanks(
  master: InventoryHost,
  members: readonly InventoryHost[],
  problem: FieldProblem,
): void {
  if (members.length < 2) return;
  if (master.nodeRank !== 0) {
    problem(
      master,
      'node_rank',
      `${master.name} is its instance's master, so its node_rank must be 0, not ${master.nodeRank}`,
    );
  }
  const seen = new Map<number, string>();
  for (const h of [master, ...members.filter((m) => m !== master)]) {
    const other = seen.get(h.nodeRank);
    if (other !== undefined)
      problem(h, 'node_rank', `node_rank ${h.nodeRank} is already used by ${other} in the same instance`);
    else seen.set(h.nodeRank, h.name);
  }
}

function resolvePrefill(
  hosts: readonly InventoryHost[],
  problem: FieldProblem,
  needsAllHosts: FieldProblem,
): PrefillMembership[] {
  const byMasterAddress = new Map<string, InventoryHost[]>();
  for (const h of hosts) {
    const members = byMasterAddress.get(h.hostIp!);
    if (members) members.push(h);
    else byMasterAddress.set(h.hostIp!, [h]);
  }

  const instances: { master: InventoryHost; hosts: string[] }[] = [];
  for (const [masterAddress, members] of byMasterAddress) {
    const master = pickMaster(members, masterAddress, 'P', needsAllHosts, problem);
    if (!master) continue;
    for (const h of members) {
      if (h === master) continue;
      if (h.kvRank !== master.kvRank) {
        problem(
          h,
          'kv_rank',
          `kv_rank ${h.kvRank} differs from ${master.name}'s ${master.kvRank}: the hosts of one prefill instance share its kv_rank`,
        );
      }
      if (h.devices.length !== master.devices.length) {
        problem(
          h,
          'ascend_rt_visible_devices',
          `${h.devices.length} devices, but its master ${master.name} has ${master.devices.length}: the hosts of one prefill instance use the same number of devices`,
        );
      }
    }
    checkNodeRanks(master, members, problem);
    instances.push({ master, hosts: masterFirst(master, members) });
  }

  // kv_rank numbers the prefill instances 0..N-1: it is the instance's KV rank and engine id, and
  // decode takes N as its own.
  const byRank = new Map<number, InventoryHost>();
  for (const { master } of instances) {
    const first = byRank.get(master.kvRank!);
    if (first) {
      problem(
        master,
        'kv_rank',
        `kv_rank ${master.kvRank} is already used by the prefill instance of ${first.name}; each prefill instance needs its own`,
      );
    } else {
      byRank.set(master.kvRank!, master);
    }
  }
  const n = instances.length;
  for (const [rank, master] of byRank) {
    if (rank >= n) {
      const expected =
        n === 1
          ? 'the only prefill instance takes kv_rank 0'
          : `${n} prefill instances take kv_rank 0..${n - 1}`;
      needsAllHosts(master, 'kv_rank', `kv_rank ${rank} leaves a gap: ${expected}`);
    }
  }
  return instances
    .map((i) => ({ kvRank: i.master.kvRank!, hosts: i.hosts }))
    .sort((a, b) => a.kvRank - b.kvRank);
}

/** The seed supports exactly one decode instance: every D host belongs to it. */
function resolveDecode(
  hosts: readonly InventoryHost[],
  problem: FieldProblem,
  needsAllHosts: FieldProblem,
): DecodeMembership | undefined {
  let master: InventoryHost | undefined;
  if (hosts.some((h) => h.legacyRole !== null)) {
    const masters = hosts.filter((h) => h.legacyRole === 'M');
    if (masters.length === 0) {
      for (const h of hosts.filter((s) => s.legacyRole === 'S')) {
        needsAllHosts(
          h,
          'role',
          `no D host has role "M": the master of ${h.name}'s decode instance is missing`,
        );
      }
      return undefined;
    }
    master = masters[0]!;
    for (const extra of masters.slice(1)) {
      problem(
        extra,
        'role',
        `${extra.name} is a second decode master (${master.name} has role "M" too): all D hosts form one decode instance`,
      );
    }
    for (const h of hosts) {
      if (h.hostIp !== null && h.hostIp !== master.address) {
        problem(
          h,
          'host_ip',
          `host_ip ${h.hostIp} disagrees with the decode master ${master.name} (${master.address}) chosen by role "M"`,
        );
      }
    }
  } else {
    const reference = hosts[0]!;
    const masterAddress = reference.hostIp!;
    for (const h of hosts.slice(1)) {
      if (h.hostIp !== masterAddress) {
        problem(
          h,
          'host_ip',
          `host_ip ${h.hostIp} disagrees with ${reference.name}'s ${masterAddress}: all D hosts form one decode instance and must name the same master`,
        );
      }
    }
    master = pickMaster(
      hosts.filter((h) => h.hostIp === masterAddress),
      masterAddress,
      'D',
      needsAllHosts,
      problem,
    );
    if (!master) return undefined;
  }
  checkNodeRanks(master, hosts, problem);
  return { hosts: masterFirst(master, hosts) };
}

/** Services that share an address must not share a port (P and the proxy on one machine is fine). */
function checkPorts(
  hosts: readonly InventoryHost[],
  masters: ReadonlySet<string>,
  problem: FieldProblem,
): void {
  const taken = new Map<string, { host: InventoryHost; first: number; last: number; label: string }[]>();
  for (const h of hosts) {
    for (const p of listeningPorts({ ...h, isMaster: masters.has(h.name) || h.group === 'C' })) {
      const field = p.what as HostField;
      if (p.last > 65535) {
        problem(h, field, `api_port ${p.first} with ${h.devices.length} API servers runs past port 65535`);
        continue;
      }
      const label = `${h.name}'s ${describePorts(p)}`;
      const onAddress = taken.get(h.address) ?? [];
      const clash = onAddress.find((t) => p.first <= t.last && t.first <= p.last);
      if (clash) problem(h, field, `port clash on ${h.address}: ${label} and ${clash.label}`);
      onAddress.push({ host: h, first: p.first, last: p.last, label });
      taken.set(h.address, onAddress);
    }
  }
}
