import type { EngineWindow } from './engineLoad';
import type { ProxyWindow } from './proxyLoad';
import type { TopTarget } from './targets';

/** One row of `deploy top`: the server, and its load or why it has none. */
export interface TopRow extends TopTarget {
  load?: EngineWindow;
  /** The scrape failed: `ECONNREFUSED`, `timeout`, `HTTP 404`, `no vLLM metrics`. */
  error?: string;
}

export interface TopView {
  cluster: string;
  /** ISO 8601, when the last scrape round ended. */
  at: string;
  windowMs: number;
  rows: TopRow[];
  /** The global proxy's counters (stub_status), or why there are none. */
  proxy?: { server: string; load?: ProxyWindow; error?: string };
}

const num = (v: number | undefined, digits = 0) => (v === undefined ? '-' : v.toFixed(digits));

/** A plain-text table (fixed-width columns), the same on a TTY and in a pipe. */
export function renderTop(view: TopView): string {
  const head = ['UNIT', 'SERVER', 'RUN', 'WAIT', 'KV%', 'REQ/S', 'TOK/S', 'TTFT p90 ms', 'ITL p90 ms'];
  // A server without metrics: its unit and server, then why, across the remaining columns.
  const rows: { cells: string[]; note?: string }[] = view.rows.map((r) => {
    const unit = r.dpRank === undefined ? r.unit : `${r.unit}/dp${r.dpRank}`;
    if (!r.load) return { cells: [unit, r.server], note: `no metrics: ${r.error ?? 'unknown'}` };
    const l = r.load;
    return {
      cells: [
        unit,
        r.server,
        num(l.running),
        num(l.waiting),
        num(l.kvUsage * 100, 1),
        num(l.requestRate, 1),
        num(l.generationRate, 0),
        num(l.ttftP90Ms, 0),
        num(l.itlP90Ms, 1),
      ],
    };
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r.cells[i]?.length ?? 0)));
  const line = ({ cells, note }: { cells: string[]; note?: string }) =>
    [
      ...cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))),
      ...(note === undefined ? [] : [note]),
    ].join('  ');
  const window = view.windowMs > 0 ? `over the last ${(view.windowMs / 1000).toFixed(1)} s` : 'first sample';
  const p = view.proxy;
  const proxy = !p
    ? []
    : p.load
      ? [
          `proxy ${p.server}: ${p.load.inFlight} requests in flight, ${p.load.active} connections, ` +
            `${p.load.requestRate.toFixed(1)} req/s`,
        ]
      : [`proxy ${p.server}: no status: ${p.error ?? 'unknown'}`];
  return [
    `${view.cluster} at ${view.at} (${window})`,
    ...proxy,
    line({ cells: head }),
    ...rows.map(line),
  ].join('\n');
}
