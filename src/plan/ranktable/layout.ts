/**
 * The narrow, JSON-serialisable input of the ranktable phase. The Plan maps onto it; keeping it
 * separate lets the phase be tested (and re-run from workflow state) without a whole Plan.
 */
export interface RanktableHost {
  /** Inventory host name: the distribution target and the name errors use. */
  name: string;
  /** Inventory address (IPv4): the ranktable's server_id/server_ip and part of file names. */
  address: string;
  /** NPU ids in `ascend_rt_visible_devices` order; rank ids follow this order. */
  devices: number[];
}

export interface PrefillInstanceLayout {
  kvRank: number;
  /** Master first: its address names the merged file's folder, and ranks start on it. */
  hosts: RanktableHost[];
}

export interface DecodeInstanceLayout {
  /** Master first, as in DECODE_SERVER_IP_LIST. */
  hosts: RanktableHost[];
}

export interface RanktableLayout {
  prefill: PrefillInstanceLayout[];
  decode: DecodeInstanceLayout[];
}

/** Raw output of `hccn_tool -i <device> -ip -g`, run in the host's container. */
export interface HccnProbe {
  host: string;
  device: number;
  output: string;
}

export interface RanktableInput {
  layout: RanktableLayout;
  hccn: HccnProbe[];
}

export function describeHost(host: RanktableHost): string {
  return `host ${host.name} (${host.address})`;
}
