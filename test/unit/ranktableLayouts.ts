import type { HccnProbe, RanktableHost, RanktableInput, RanktableLayout } from '../../src/plan/ranktable';

/** The seed's A3 nodes: 16 NPU dies per host. */
export const SIXTEEN_DEVICES = Array.from({ length: 16 }, (_, i) => i);

export function host(name: string, address: string, devices: number[] = SIXTEEN_DEVICES): RanktableHost {
  return { name, address, devices };
}

/** Device IPs that show their origin: host 10.0.0.3 device 5 → 192.168.3.15. */
export function defaultDeviceIp(h: RanktableHost, device: number): string {
  return `192.168.${h.address.split('.')[3]}.${10 + device}`;
}

export function hccnOutput(ip: string): string {
  return `ipaddr:${ip}\nnetmask:255.255.255.0\n`;
}

export function probesFor(layout: RanktableLayout, ipOf = defaultDeviceIp): HccnProbe[] {
  return [...layout.prefill, ...layout.decode]
    .flatMap((i) => i.hosts)
    .flatMap((h) =>
      h.devices.map((device) => ({ host: h.name, device, output: hccnOutput(ipOf(h, device)) })),
    );
}

export function inputFor(layout: RanktableLayout): RanktableInput {
  return { layout, hccn: probesFor(layout) };
}

/** Seed 2P1D: two single-host prefill instances, one decode instance over d0 (master) and d1. */
export const LAYOUT_2P1D: RanktableLayout = {
  prefill: [
    { kvRank: 0, hosts: [host('p0', '10.0.0.1')] },
    { kvRank: 1, hosts: [host('p1', '10.0.0.2')] },
  ],
  decode: [{ hosts: [host('d0', '10.0.0.3'), host('d1', '10.0.0.4')] }],
};

/** Seed 4P1D: four single-host prefill instances, one decode instance over four hosts. */
export const LAYOUT_4P1D: RanktableLayout = {
  prefill: [0, 1, 2, 3].map((kvRank) => ({ kvRank, hosts: [host(`p${kvRank}`, `10.0.0.${kvRank + 1}`)] })),
  decode: [{ hosts: [0, 1, 2, 3].map((i) => host(`d${i}`, `10.0.0.${i + 5}`)) }],
};

/** kv_rank 0 spans p0 (master) and p1; kv_rank 1 is p2 alone; decode is d0 alone. */
export const LAYOUT_MULTI_HOST_PREFILL: RanktableLayout = {
  prefill: [
    { kvRank: 0, hosts: [host('p0', '10.0.0.1'), host('p1', '10.0.0.2')] },
    { kvRank: 1, hosts: [host('p2', '10.0.0.3')] },
  ],
  decode: [{ hosts: [host('d0', '10.0.0.4')] }],
};
