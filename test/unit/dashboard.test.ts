import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LOAD_GAUGES } from '../../src/activities/engineLoad';
import { dashboardMetrics, dashboardQueries, readDashboard } from '../helpers/dashboard';

const ROOT = path.join(__dirname, '..', '..');

/** The worker's own metrics: the workflows' health and repair metrics and the load gauges. */
function workerMetrics(): Set<string> {
  const source = fs.readFileSync(path.join(ROOT, 'src', 'workflows', 'cluster', 'metrics.ts'), 'utf8');
  const names = [...source.matchAll(/create(?:Gauge|Counter)\(\s*'([a-z0-9_]+)'/g)].map((m) => m[1]!);
  assert.ok(names.length >= 4, `found ${names.join(', ')}`);
  return new Set([...names, ...Object.keys(LOAD_GAUGES)]);
}

/** What the engines export (sim/engine/metrics.go), with the series names a scrape shows. */
function engineSeries(): Set<string> {
  const source = fs.readFileSync(path.join(ROOT, 'sim', 'engine', 'metrics.go'), 'utf8');
  const names = [...source.matchAll(/"(vllm:[a-z0-9_:]+)"/g)].map((m) => m[1]!);
  assert.ok(names.includes('vllm:num_requests_running'), names.join(', '));
  return new Set(names.flatMap((n) => [n, `${n}_total`, `${n}_bucket`, `${n}_sum`, `${n}_count`]));
}

describe('the Grafana dashboard (dashboards/grafana-omni-deploy.json)', () => {
  it('has unique panel ids and a query on every panel that is not a row', () => {
    const d = readDashboard();
    const ids = d.panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const p of d.panels.filter((x) => x.type !== 'row'))
      assert.ok(
        (p.targets ?? []).some((t) => t.expr.trim() !== ''),
        `panel "${p.title}" has no query`,
      );
    assert.ok(dashboardQueries(d).length >= 15, `${dashboardQueries(d).length} queries`);
  });

  it('names only metrics the worker or the engines export, and shows health, load and latency', () => {
    const { worker, engine } = dashboardMetrics();
    const exported = workerMetrics();
    const series = engineSeries();
    assert.deepEqual(
      worker.filter((n) => !exported.has(n)),
      [],
      'worker metrics the dashboard names but nobody exports',
    );
    assert.deepEqual(
      engine.filter((n) => !series.has(n)),
      [],
      'engine metrics the dashboard names but the engines do not export',
    );
    for (const needed of [
      'omni_deploy_unit_health',
      'omni_deploy_engine_requests_waiting',
      'omni_deploy_engine_ttft_p90_seconds',
      'vllm:time_to_first_token_seconds_bucket',
    ])
      assert.ok([...worker, ...engine].includes(needed), needed);
  });
});
