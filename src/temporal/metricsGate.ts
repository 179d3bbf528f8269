import * as http from 'node:http';
import * as net from 'node:net';
import type { NativeConnection } from '@temporalio/worker';
import { clusterFromWorkflowId } from '../shared/ids';
import { DEPLOY_HEALTH } from '../shared/searchAttributes';

/**
 * The worker's Prometheus endpoint (`deploy worker --metrics-port`) opens only once it has the
 * health of every cluster whose watch runs here, so no scrape after a worker (re)start reads
 * "no data" for a healthy cluster (an `absent()` alert would fire).
 *
 * The health gauges are set by the cluster workflows (src/workflows/cluster/metrics.ts), which
 * emit nothing while replaying: a new worker has them once each cluster's watch has reported to
 * it, seconds after it starts (the watch returns when its worker shuts down and at once on a
 * retry). So the SDK's exporter listens on a loopback port of its own, and this gate listens on
 * the operator's port, forwarding every scrape, from the moment the gauges of every open cluster
 * with a health verdict are in — or after `waitMs`, saying which are missing.
 */
export interface MetricsGateOptions {
  /** Where the SDK's exporter listens (internal). */
  exporter: { host: string; port: number };
  /** The operator's endpoint. */
  listen: { host: string; port: number };
  waitMs: number;
  log: (line: string) => void;
}

/** A free loopback port for the SDK's exporter (bound by the runtime right after). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Fails now, not once the workers run, when the operator's metrics port is taken. */
export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(`--metrics-port ${port}: cannot listen on ${host}:${port} (${err.code ?? err.message})`),
      ),
    );
    srv.listen(port, host, () => srv.close(() => resolve()));
  });
}

/** The clusters with a health verdict whose workflows run now (DeployHealth is set by the watch). */
export async function watchedClusters(connection: NativeConnection, namespace: string): Promise<string[]> {
  const names: string[] = [];
  let nextPageToken: Uint8Array | undefined;
  do {
    const page = await connection.workflowService.listWorkflowExecutions({
      namespace,
      query: `ExecutionStatus = 'Running' AND ${DEPLOY_HEALTH.name} IS NOT NULL`,
      ...(nextPageToken ? { nextPageToken } : {}),
    });
    for (const e of page.executions ?? []) {
      const name = clusterFromWorkflowId(e.execution?.workflowId ?? '');
      if (name !== undefined) names.push(name);
    }
    nextPageToken = page.nextPageToken?.length ? page.nextPageToken : undefined;
  } while (nextPageToken);
  return names.sort();
}

/** Clusters of `clusters` that have no omni_deploy_cluster_health sample in the exposition `text`. */
export function clustersWithoutGauge(text: string, clusters: string[]): string[] {
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('omni_deploy_cluster_health{')) continue;
    const m = /[{,]cluster="([^"]*)"/.exec(line);
    if (m) seen.add(m[1]!);
  }
  return clusters.filter((c) => !seen.has(c));
}

function scrape(exporter: MetricsGateOptions['exporter']): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...exporter, path: '/metrics', timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Waits until the exporter has a health gauge for each of `clusters` (or `waitMs` passed), then
 * listens on the operator's port, forwarding to the exporter. Resolves with the server.
 */
export async function openMetricsGate(clusters: string[], opts: MetricsGateOptions): Promise<http.Server> {
  const deadline = Date.now() + opts.waitMs;
  let missing = clusters;
  while (missing.length > 0 && Date.now() < deadline) {
    missing = clustersWithoutGauge(await scrape(opts.exporter).catch(() => ''), missing);
    if (missing.length > 0) await new Promise((r) => setTimeout(r, 200));
  }
  const server = http.createServer((req, res) => {
    const upstream = http.get({ ...opts.exporter, path: req.url ?? '/metrics' }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', (err) => {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`the worker's metrics exporter does not answer: ${err.message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.listen.port, opts.listen.host, () => resolve());
  });
  const url = `http://${opts.listen.host}:${opts.listen.port}/metrics`;
  if (missing.length > 0) {
    opts.log(
      `metrics: ${url} (no health yet for ${missing.join(', ')} after ${Math.round(opts.waitMs / 1000)} s: ` +
        'their watch has not reported to this worker)',
    );
  } else {
    opts.log(`metrics: ${url}${clusters.length ? ` (health of ${clusters.join(', ')})` : ''}`);
  }
  return server;
}
