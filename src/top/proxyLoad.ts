/**
 * The global proxy's own counters, from nginx's stub_status (the default proxy serves it on its
 * port at PROXY_STATUS_PATH):
 *
 *     Active connections: 3
 *     server accepts handled requests
 *      12 12 40
 *     Reading: 0 Writing: 2 Waiting: 1
 */
export interface ProxyScrape {
  at: number;
  /** Client connections open now. */
  active: number;
  /** Connections nginx is answering now (requests in flight, this status request included). */
  writing: number;
  /** Requests since nginx started. */
  requests: number;
}

export function readProxyStatus(text: string, at: number): ProxyScrape | undefined {
  const active = /Active connections:\s*(\d+)/.exec(text);
  const counts = /server accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/.exec(text);
  const writing = /Writing:\s*(\d+)/.exec(text);
  if (!active || !counts || !writing) return undefined;
  return { at, active: Number(active[1]), writing: Number(writing[1]), requests: Number(counts[3]) };
}

export interface ProxyWindow {
  active: number;
  /** Requests in flight besides the status request itself. */
  inFlight: number;
  /** Requests per second over the window (status requests included: one per scrape). */
  requestRate: number;
  windowMs: number;
}

export function proxyWindow(before: ProxyScrape | undefined, now: ProxyScrape): ProxyWindow {
  const ms = before ? now.at - before.at : 0;
  // A reload keeps the counters; a restart starts them again.
  const delta = before && now.requests >= before.requests ? now.requests - before.requests : 0;
  return {
    active: now.active,
    inFlight: Math.max(0, now.writing - 1),
    requestRate: ms > 0 ? delta / (ms / 1000) : 0,
    windowMs: ms,
  };
}
