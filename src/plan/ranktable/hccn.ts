import { isIPv4 } from './address';
import { RanktableError, quoteOutput } from './errors';

export interface HccnIpConfig {
  ip: string;
  netmask?: string;
}

export interface HccnContext {
  host: string;
  device: number;
}

const FIELD = /^\s*([A-Za-z_]+)\s*:\s*(.*?)\s*$/;

/**
 * Reads `hccn_tool -i <dev> -ip -g` output (`ipaddr:…` then `netmask:…`). omniinfer blindly takes
 * whatever follows the first colon of the first line, so an error text becomes a "device IP" and
 * HCCL fails much later; here anything but one well-formed ipaddr line is refused at once, naming
 * the host and device and quoting what the tool said.
 */
export function parseHccnIpOutput(output: string, ctx: HccnContext): HccnIpConfig {
  const fields = new Map<string, string[]>();
  for (const line of output.split(/\r?\n/)) {
    const m = FIELD.exec(line);
    if (!m) continue;
    const key = m[1]!.toLowerCase();
    fields.set(key, [...(fields.get(key) ?? []), m[2]!]);
  }
  const where = `host ${ctx.host} device ${ctx.device}`;
  const said = `hccn_tool -i ${ctx.device} -ip -g printed ${quoteOutput(output)}`;
  const ips = fields.get('ipaddr') ?? [];
  if (ips.length !== 1) {
    const why = ips.length === 0 ? 'has no ipaddr line' : 'has several ipaddr lines';
    throw new RanktableError([
      `${where}: ${said}, which ${why}; is the device's NIC configured (hccn.conf)?`,
    ]);
  }
  const ip = ips[0]!;
  if (ip === '') throw new RanktableError([`${where}: ${said}; the device has no IP (empty ipaddr)`]);
  if (!isIPv4(ip)) throw new RanktableError([`${where}: ${said}; "${ip}" is not an IPv4 address`]);
  const netmask = fields.get('netmask')?.[0];
  return netmask === undefined ? { ip } : { ip, netmask };
}
