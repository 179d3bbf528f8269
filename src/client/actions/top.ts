import * as http from 'node:http';
import logUpdate from 'log-update';
import { clusterWorkflowId } from '../../shared/ids';
import { PROXY_STATUS_PATH } from '../../plan/proxy/nginxConf';
import { engineWindow, readEngineScrape, type EngineScrape } from '../../top/engineLoad';
import { proxyWindow, readProxyStatus, type ProxyScrape } from '../../top/proxyLoad';
import { topTargets, type TopTarget } from '../../top/targets';
import { renderTop, type TopRow, type TopView } from '../../top/view';
import { planQuery } from '../../workflows/cluster/messages';
import { withClient } from '../temporalClient';
import { resolveCluster } from './status';

export interface TopFlags {
  inventory?: string;
  json?: boolean;
  /** ms between two scrapes. */
  interval: number;
  /** Stop after this many refreshes (tests, scripts); default: until Ctrl-C. */
  count?: number;
}

const SCRAPE_TIMEOUT_MS = 1500;

/** One GET of a server's `path`: its text, or why there is none. */
function fetchText(server: string, path = '/metrics'): Promise<{ text: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get(`http://${server}${path}`, { timeout: SCRAPE_TIMEOUT_MS }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(res.statusCode === 200 ? { text } : { error: `HTTP ${res.statusCode}` }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ error: err.code ?? err.message }));
  });
}

type Scrape = EngineScrape | { error: string };
type ProxyTarget = { server: string; path: string };
type ProxyResult = ProxyScrape | { error: string };

async function scrapeProxy(p: ProxyTarget): Promise<ProxyResult> {
  const got = await fetchText(p.server, p.path);
  if ('error' in got) return got;
  return readProxyStatus(got.text, Date.now()) ?? { error: 'no stub_status (a seed-mode proxy has none)' };
}

async function scrapeAll(targets: TopTarget[]): Promise<Scrape[]> {
  return Promise.all(
    targets.map(async (t) => {
      const got = await fetchText(t.server);
      if ('error' in got) return got;
      return readEngineScrape(got.text, Date.now()) ?? { error: 'no vLLM metrics in its /metrics' };
    }),
  );
}

interface Round {
  engines: Scrape[];
  proxy: ProxyResult;
}

async function scrapeRound(targets: TopTarget[], proxy: ProxyTarget): Promise<Round> {
  const [engines, p] = await Promise.all([scrapeAll(targets), scrapeProxy(proxy)]);
  return { engines, proxy: p };
}

function viewOf(
  cluster: string,
  targets: TopTarget[],
  proxy: ProxyTarget,
  before: Round | undefined,
  round: Round,
): TopView {
  const view = engineView(cluster, targets, before?.engines, round.engines);
  const prev = before?.proxy;
  view.proxy =
    'error' in round.proxy
      ? { server: proxy.server, error: round.proxy.error }
      : {
          server: proxy.server,
          load: proxyWindow(prev && !('error' in prev) ? prev : undefined, round.proxy),
        };
  return view;
}

function engineView(
  cluster: string,
  targets: TopTarget[],
  before: Scrape[] | undefined,
  now: Scrape[],
): TopView {
  const rows: TopRow[] = targets.map((t, i) => {
    const cur = now[i]!;
    if ('error' in cur) return { ...t, error: cur.error };
    const prev = before?.[i];
    return { ...t, load: engineWindow(prev && !('error' in prev) ? prev : undefined, cur) };
  });
  const windows = rows.map((r) => r.load?.windowMs ?? 0).filter((ms) => ms > 0);
  return {
    cluster,
    at: new Date().toISOString(),
    windowMs: windows.length ? Math.round(windows.reduce((a, b) => a + b) / windows.length) : 0,
    rows,
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `deploy top`: every API server's load from its own /metrics (vLLM's metrics), refreshed every
 * interval; rates and p90s are over the last interval. The engines are scraped from this machine,
 * like the seed's executor reaches them; `--json` prints one sample (two scrapes an interval apart).
 */
export async function showTop(cluster: string | undefined, flags: TopFlags): Promise<number> {
  const { name, targets, proxy } = await withClient(async (client) => {
    const name = await resolveCluster(client, cluster, flags.inventory);
    const plan = await client.workflow.getHandle(clusterWorkflowId(name)).query(planQuery);
    const proxy = { server: `${plan.proxy.address}:${plan.proxy.listenPort}`, path: PROXY_STATUS_PATH };
    return { name, targets: topTargets(plan), proxy };
  });
  let before = await scrapeRound(targets, proxy);
  if (flags.json) {
    await sleep(flags.interval);
    console.log(
      JSON.stringify(viewOf(name, targets, proxy, before, await scrapeRound(targets, proxy)), null, 2),
    );
    return 0;
  }
  const tty = process.stdout.isTTY === true;
  let shown = 0;
  const show = (view: TopView) => (tty ? logUpdate(renderTop(view)) : console.log(`${renderTop(view)}\n`));
  show(viewOf(name, targets, proxy, undefined, before));
  while (flags.count === undefined || shown < flags.count) {
    await sleep(flags.interval);
    const now = await scrapeRound(targets, proxy);
    show(viewOf(name, targets, proxy, before, now));
    before = now;
    shown++;
  }
  if (tty) logUpdate.done();
  return 0;
}
