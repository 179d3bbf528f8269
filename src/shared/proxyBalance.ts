// Types only: workflow code (the proxy step) uses this file, and settings.ts brings zod and paths.
import type { LB_SDKS } from '../inventory/settings';

export type LbSdk = (typeof LB_SDKS)[number];

/** How nginx picks a server of an upstream group in the default proxy (proxy_mode: njs). */
export type ProxyBalance = 'least_conn' | 'round_robin';

/**
 * omniinfer's balancer modules (PREFILL_LB_SDK / DECODE_LB_SDK) as the default proxy honours them.
 * omniinfer's load-aware modules score a server by its outstanding work (queued prompt tokens,
 * running requests, KV use). The default proxy is stock nginx with njs 0.7.9, which keeps no state
 * shared between requests (js_shared_dict_zone needs njs 0.8), so the work it can see is nginx's
 * own count of requests in flight per server: `least_conn` over a shared `zone`. A long prompt
 * holds its prefill connection for as long as it is being prefilled, so in-flight requests follow
 * outstanding prompt tokens; docs/launch-and-proxy.md has the measurement (npm run bench:balance).
 * `undefined`: a module whose policy is not a load count (timeouts, lengths, a feedback controller);
 * the default proxy refuses it rather than quietly doing something else.
 */
export const LB_SDK_BALANCE: Readonly<Record<LbSdk, ProxyBalance | undefined>> = {
  // In LB_SDKS's order, which error messages follow.
  pd_score_balance: 'least_conn',
  weighted_least_active: 'least_conn',
  greedy_timeout: undefined,
  prefill_score_balance: 'least_conn',
  least_total_load: 'least_conn',
  auto_balance_controller: undefined,
  length_balance: undefined,
  least_conn: 'least_conn',
  round_robin: 'round_robin',
};

/** The names the default proxy honours, for error messages. */
export const HONOURED_LB_SDKS = (Object.keys(LB_SDK_BALANCE) as LbSdk[]).filter(
  (k) => LB_SDK_BALANCE[k] !== undefined,
);

/**
 * The balance of a Plan's LB_SDK name. Never throws: the inventory loader has refused names the
 * default proxy cannot honour, and a Plan made before that check (a running cluster's) falls back
 * to nginx's default, round-robin, which is what such a proxy did until then.
 */
export function proxyBalance(lbSdk: string): ProxyBalance {
  return LB_SDK_BALANCE[lbSdk as LbSdk] ?? 'round_robin';
}
