import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { clustersWithoutGauge, freeLoopbackPort, openMetricsGate } from '../../src/temporal/metricsGate';

const WITHOUT =
  '# HELP temporal_workflow_task_queue_poll_succeed x\ntemporal_workflow_task_queue_poll_succeed 3\n';
const gauge = (cluster: string, value: number) =>
  `omni_deploy_cluster_health{namespace="default",cluster="${cluster}",workflow_type="deployCluster"} ${value}\n`;

/**
 * The worker's metrics gate (src/temporal/metricsGate.ts) against a stand-in for the SDK's
 * exporter: the operator's port answers only once every watched cluster has its health gauge,
 * or after the wait, saying which are missing.
 */
describe('metrics gate', () => {
  let exporter: http.Server;
  let body = WITHOUT;
  let exporterPort: number;
  const servers: http.Server[] = [];

  before(async () => {
    exporter = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(body);
    });
    await new Promise<void>((r) => exporter.listen(0, '127.0.0.1', () => r()));
    exporterPort = (exporter.address() as AddressInfo).port;
  });
  after(() => {
    exporter.close();
    for (const s of servers) s.close();
  });

  const scrape = (port: number) =>
    fetch(`http://127.0.0.1:${port}/metrics`)
      .then((r) => r.text())
      .catch(() => undefined);

  it('finds the clusters without a health sample', () => {
    const text = WITHOUT + gauge('a', 0) + gauge('b', 2);
    assert.deepEqual(clustersWithoutGauge(text, ['a', 'b', 'c']), ['c']);
    assert.deepEqual(
      clustersWithoutGauge(`omni_deploy_unit_health{cluster="c",unit="decode-0"} 0\n`, ['c']),
      ['c'],
    );
  });

  it('does not answer until every watched cluster has its gauge, then forwards every scrape', async () => {
    body = WITHOUT + gauge('a', 0);
    const port = await freeLoopbackPort();
    const lines: string[] = [];
    const opening = openMetricsGate(['a', 'b'], {
      exporter: { host: '127.0.0.1', port: exporterPort },
      listen: { host: '127.0.0.1', port },
      waitMs: 20_000,
      log: (l) => lines.push(l),
    });
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(await scrape(port), undefined, 'closed while b has no gauge');
    body = WITHOUT + gauge('a', 0) + gauge('b', 1);
    servers.push(await opening);
    assert.equal(await scrape(port), body);
    assert.match(lines.join('\n'), /metrics: http:\/\/127\.0\.0\.1:\d+\/metrics \(health of a, b\)/);
  });

  it('opens after the wait anyway, naming the clusters it has no health for', async () => {
    body = WITHOUT;
    const port = await freeLoopbackPort();
    const lines: string[] = [];
    servers.push(
      await openMetricsGate(['gone'], {
        exporter: { host: '127.0.0.1', port: exporterPort },
        listen: { host: '127.0.0.1', port },
        waitMs: 1000,
        log: (l) => lines.push(l),
      }),
    );
    assert.equal(await scrape(port), WITHOUT);
    assert.match(lines.join('\n'), /no health yet for gone after 1 s/);
  });
});
