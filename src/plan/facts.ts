import type { DecodeInstance, PlanHost, PrefillInstance, RanktablePlan, SeedFacts } from './types';

/**
 * The seed's "Register all values" facts (§2.1), computed the seed's way with two corrections
 * (docs/plan.md):
 * - Lists follow instance order (kv_rank) and decode master-first order, where the seed walks
 *   the inventory; for the seed's own layouts the result is identical.
 * - DECODE_POD_NUM is the number of decode instances (1), the meaning the engine's ranktable code
 *   gives it; the seed set it to the number of D hosts. That count is DECODE_HOST_NUM.
 */
export function seedFacts(
  hosts: readonly PlanHost[],
  prefill: readonly PrefillInstance[],
  decode: readonly DecodeInstance[],
  ranktable: RanktablePlan,
): SeedFacts {
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const decodeHosts = decode.flatMap((i) => i.hosts.map((n) => byName.get(n)!));
  const prefillHosts = hosts.filter((h) => h.group === 'P');
  const nodeIpList = (h: PlanHost) => prefill.find((i) => i.hosts.includes(h.name))!.nodeIpList;
  return {
    PREFILL_API_SERVER_LIST: prefill.map((i) => `${i.masterAddress}:${i.apiPort}`).join(','),
    DECODE_API_SERVER_LIST: decodeHosts
      .map((h) => `${h.address}:${h.apiPort}@${h.devices.length - 1}`)
      .join(','),
    PREFILL_POD_NUM: prefill.length,
    DECODE_POD_NUM: decode.length,
    DECODE_HOST_NUM: decodeHosts.length,
    DECODE_SERVER_IP_LIST: decodeHosts.map((h) => h.address).join(','),
    DECODE_SERVER_ALL: decodeHosts.flatMap((h) => h.devices).join(','),
    PREFILL_MERGE_RANKTABLE_LIST: ranktable.prefill
      .map((i) => i.hosts.map((h) => `collect_files_p/${h.deviceFile}`).join(','))
      .join(';'),
    DECODE_RANKTABLE_LIST: ranktable.decode
      .flatMap((i) => i.hosts.map((h) => `collect_files_d/${h.deviceFile}`))
      .join(','),
    DECODE_SERVER_OFFSET: Object.fromEntries(decodeHosts.map((h) => [h.name, h.dpOffset])),
    NODE_IP_LIST: Object.fromEntries(prefillHosts.map((h) => [h.name, nodeIpList(h).join(',')])),
    NNODES: Object.fromEntries(prefillHosts.map((h) => [h.name, nodeIpList(h).length])),
  };
}
