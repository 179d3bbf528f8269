/**
 * NPU device tables of simulated hosts, in the real /etc/hccn.conf format that `hccn_tool`
 * (the engine simulator under that name) answers from. Device IPs are unique across a cluster:
 * 192.168.<host's last octet>.<100 + device id>.
 */
export interface NpuDevice {
  id: number;
  /** null: the device exists but has no address configured (hccn_tool -ip -g fails). */
  ip: string | null;
  netmask?: string;
}

export function defaultDevices(hostOctet: number, count = 16): NpuDevice[] {
  return Array.from({ length: count }, (_, id) => ({ id, ip: `192.168.${hostOctet}.${100 + id}` }));
}

export function deviceTableText(devices: NpuDevice[]): string {
  const count = devices.reduce((n, d) => Math.max(n, d.id + 1), 0);
  const lines = ['# NPU device table of a simulated host (omni-deploy sim)', `# sim-devices=${count}`];
  for (const d of devices) {
    if (d.ip === null) continue;
    lines.push(`address_${d.id}=${d.ip}`, `netmask_${d.id}=${d.netmask ?? '255.255.255.0'}`);
  }
  return lines.join('\n') + '\n';
}

export function defaultDeviceTable(hostOctet: number, count = 16): string {
  return deviceTableText(defaultDevices(hostOctet, count));
}
