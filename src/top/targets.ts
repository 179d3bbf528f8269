import type { Plan } from '../plan/types';

/** One row of `deploy top`: a prefill instance (its API server) or one decode DP rank. */
export interface TopTarget {
  /** `prefill-0`, `decode-0`. */
  unit: string;
  kind: 'prefill' | 'decode';
  host: string;
  /** `address:port` of the API server. */
  server: string;
  /** Decode: the DP rank this API server is. */
  dpRank?: number;
}

/** Prefill instances first (kv_rank order), then every decode API server in DP rank order. */
export function topTargets(plan: Plan): TopTarget[] {
  return [
    ...plan.prefill.map((i) => ({
      unit: i.id,
      kind: 'prefill' as const,
      host: i.master,
      server: `${i.masterAddress}:${i.apiPort}`,
    })),
    ...plan.decode.flatMap((i) =>
      i.apiServers.map((a) => ({
        unit: i.id,
        kind: 'decode' as const,
        host: a.host,
        server: `${a.address}:${a.port}`,
        dpRank: a.dpRank,
      })),
    ),
  ];
}
