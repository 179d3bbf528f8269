import { RanktableError } from './errors';
import type { LocalRanktable, NamedRanktable, RanktableServer } from './types';

export interface LocalRanktableHost {
  /** The inventory address: omniinfer resolved the container's hostname instead, which broke
   * whenever that name mapped to loopback or another NIC (behaviour spec §9.3). */
  address: string;
  devices: number[];
  deviceIps: Record<number, string>;
}

export interface LocalRanktables {
  /** `local_ranktable_<ip>_<devices concatenated>.json` */
  local: NamedRanktable<LocalRanktable>;
  /** `local_ranktable_<ip>_host.json`, the API-server entry every prefill host gets (`--api-server`). */
  apiServer: NamedRanktable<LocalRanktable>;
}

/** What `pd_ranktable_tools.py --mode gen` writes for one host, rank ids in device-list order. */
export function localRanktable(host: LocalRanktableHost): LocalRanktables {
  const missing = host.devices.filter((d) => host.deviceIps[d] === undefined);
  if (missing.length > 0)
    throw new RanktableError(missing.map((d) => `host ${host.address} device ${d}: no device IP`));
  const server: RanktableServer = {
    server_id: host.address,
    server_ip: host.address,
    device: host.devices.map((device, rank) => ({
      device_id: String(device),
      device_ip: host.deviceIps[device]!,
      rank_id: String(rank),
    })),
  };
  return {
    local: {
      fileName: localRanktableFileName(host.address, host.devices),
      ranktable: singleServer(server),
    },
    apiServer: {
      fileName: `local_ranktable_${host.address}_host.json`,
      ranktable: singleServer({ server_id: host.address, server_ip: host.address }),
    },
  };
}

/** Devices are concatenated without separators (0..15 → `0123456789101112131415`), as omniinfer does. */
export function localRanktableFileName(address: string, devices: readonly number[]): string {
  return `local_ranktable_${address}_${devices.join('')}.json`;
}

function singleServer(server: RanktableServer): LocalRanktable {
  return { version: '1.0', status: 'completed', group_id: '0', server_count: '1', server_list: [server] };
}
