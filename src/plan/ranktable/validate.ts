import { isIPv4 } from './address';
import { RanktableError, quoteOutput } from './errors';
import { parseHccnIpOutput } from './hccn';
import {
  describeHost,
  type HccnProbe,
  type RanktableHost,
  type RanktableInput,
  type RanktableLayout,
} from './layout';

/** Device IPs per inventory host name, device id → IP. */
export type DeviceIpTable = Map<string, Record<number, string>>;

/**
 * Checks the layout and the hccn_tool outputs together and returns the device IPs, or throws one
 * RanktableError listing every problem, so nothing is produced from a half-valid cluster.
 */
export function validateRanktableInput(input: RanktableInput): DeviceIpTable {
  const problems = layoutProblems(input.layout);
  const hosts = allHosts(input.layout);
  const outputs = indexProbes(input.hccn, hosts, problems);
  const table: DeviceIpTable = new Map();
  const owners = new Map<string, { host: RanktableHost; device: number }>();
  for (const host of hosts) {
    const ips: Record<number, string> = {};
    for (const device of host.devices) {
      const output = outputs.get(host.name)?.get(device);
      if (output === undefined) {
        problems.push(
          `${describeHost(host)} device ${device}: no hccn_tool output; is the device present on the host?`,
        );
        continue;
      }
      const ip = deviceIp(output, host, device, problems);
      if (ip === undefined) continue;
      const owner = owners.get(ip);
      if (owner)
        problems.push(
          `${describeHost(host)} device ${device}: device IP ${ip} (hccn_tool printed ${quoteOutput(output)}) ` +
            `is also ${describeHost(owner.host)} device ${owner.device}'s; device IPs must be unique in the cluster`,
        );
      else owners.set(ip, { host, device });
      ips[device] = ip;
    }
    table.set(host.name, ips);
  }
  if (problems.length > 0) throw new RanktableError(problems);
  return table;
}

export function allHosts(layout: RanktableLayout): RanktableHost[] {
  return [...layout.prefill, ...layout.decode].flatMap((instance) => instance.hosts);
}

/** hccn_tool output per host name and device; probes the plan does not expect are problems. */
function indexProbes(
  probes: readonly HccnProbe[],
  hosts: readonly RanktableHost[],
  problems: string[],
): Map<string, Map<number, string>> {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const outputs = new Map<string, Map<number, string>>();
  for (const probe of probes) {
    const host = byName.get(probe.host);
    if (!host) {
      problems.push(
        `hccn_tool output for host ${probe.host}, which is not a prefill or decode host of the plan`,
      );
      continue;
    }
    const seen = outputs.get(host.name) ?? new Map<number, string>();
    outputs.set(host.name, seen);
    if (!host.devices.includes(probe.device))
      problems.push(
        `${describeHost(host)} device ${probe.device}: hccn_tool output ${quoteOutput(probe.output)} ` +
          `for a device the plan does not list (planned: ${host.devices.join(',')})`,
      );
    else if (seen.has(probe.device))
      problems.push(`${describeHost(host)} device ${probe.device}: hccn_tool output given twice`);
    else seen.set(probe.device, probe.output);
  }
  return outputs;
}

function deviceIp(
  output: string,
  host: RanktableHost,
  device: number,
  problems: string[],
): string | undefined {
  try {
    return parseHccnIpOutput(output, { host: `${host.name} (${host.address})`, device }).ip;
  } catch (err) {
    if (!(err instanceof RanktableError)) throw err;
    problems.push(...err.problems);
    return undefined;
  }
}

function layoutProblems(layout: RanktableLayout): string[] {
  const problems: string[] = [];
  if (layout.prefill.length === 0) problems.push('no prefill instance');
  // The seed's launch scripts read one merged decode file (collect_files_d/local_*merge.json).
  if (layout.decode.length !== 1)
    problems.push(`exactly one decode instance is supported, the plan has ${layout.decode.length}`);

  const kvRanks = layout.prefill.map((p) => p.kvRank).sort((a, b) => a - b);
  if (kvRanks.some((rank, i) => rank !== i))
    problems.push(
      `prefill kv_ranks must be 0…${layout.prefill.length - 1}, one per instance; got ${kvRanks.join(',')}`,
    );

  const instances = [
    ...layout.prefill.map((p) => ({
      label: `prefill instance kv_rank ${p.kvRank}`,
      role: 'prefill',
      hosts: p.hosts,
    })),
    ...layout.decode.map((d, i) => ({ label: `decode instance ${i}`, role: 'decode', hosts: d.hosts })),
  ];
  const names = new Set<string>();
  const addressesByRole = new Map<string, Map<string, string>>();
  for (const { label, role, hosts } of instances) {
    if (hosts.length === 0) problems.push(`${label} has no hosts`);
    const addresses = addressesByRole.get(role) ?? new Map<string, string>();
    addressesByRole.set(role, addresses);
    for (const host of hosts) {
      if (names.has(host.name)) problems.push(`host ${host.name} appears more than once in the layout`);
      names.add(host.name);
      if (!isIPv4(host.address))
        problems.push(
          `host ${host.name}: address "${host.address}" is not an IPv4 address; ranktables need one`,
        );
      const sharing = addresses.get(host.address);
      // Two hosts of one role on one machine would write the same collect_files names.
      if (sharing !== undefined && sharing !== host.name)
        problems.push(`${role} hosts ${sharing} and ${host.name} share the address ${host.address}`);
      addresses.set(host.address, host.name);
      problems.push(...deviceListProblems(host));
    }
  }
  return problems;
}

function deviceListProblems(host: RanktableHost): string[] {
  if (host.devices.length === 0) return [`${describeHost(host)} has no devices`];
  const bad = host.devices.filter((d) => !Number.isInteger(d) || d < 0);
  const repeated = host.devices.filter((d, i) => host.devices.indexOf(d) !== i);
  return [
    ...bad.map((d) => `${describeHost(host)}: device id ${d} is not a non-negative integer`),
    ...repeated.map((d) => `${describeHost(host)} device ${d} is listed twice`),
  ];
}
