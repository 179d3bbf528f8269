import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  histogram,
  histogramDelta,
  histogramQuantile,
  parseExposition,
  total,
} from '../../src/top/exposition';
import { engineWindow, readEngineScrape } from '../../src/top/engineLoad';
import { topTargets } from '../../src/top/targets';
import { proxyWindow, readProxyStatus } from '../../src/top/proxyLoad';
import { renderTop } from '../../src/top/view';
import { seedPlan } from '../helpers/plans';

/** What vLLM 0.9's prometheus_client prints, label order included (le sorts before model_name). */
function exposition(o: {
  running: number;
  waiting: number;
  success: number;
  ttftBuckets: number[];
  gen: number;
}) {
  const les = ['0.1', '0.5', '1.0', '+Inf'];
  const labels = 'engine="0",model_name="deepseek"';
  return [
    '# HELP vllm:num_requests_running Number of requests in model execution batches.',
    '# TYPE vllm:num_requests_running gauge',
    `vllm:num_requests_running{${labels}} ${o.running}.0`,
    `vllm:num_requests_waiting{${labels}} ${o.waiting}.0`,
    `vllm:gpu_cache_usage_perc{${labels}} 0.25`,
    '# TYPE vllm:request_success counter',
    `vllm:request_success_total{engine="0",finished_reason="length",model_name="deepseek"} ${o.success - 1}.0`,
    `vllm:request_success_total{engine="0",finished_reason="stop",model_name="deepseek"} 1.0`,
    `vllm:request_success_created{engine="0",finished_reason="stop",model_name="deepseek"} 1.7e+09`,
    `vllm:generation_tokens_total{${labels}} ${o.gen}.0`,
    '# TYPE vllm:time_to_first_token_seconds histogram',
    ...les.map(
      (le, i) =>
        `vllm:time_to_first_token_seconds_bucket{engine="0",le="${le}",model_name="deepseek"} ${o.ttftBuckets[i]}.0`,
    ),
    `vllm:time_to_first_token_seconds_count{${labels}} ${o.ttftBuckets[3]}.0`,
    `vllm:time_to_first_token_seconds_sum{${labels}} 12.5`,
    '',
  ].join('\n');
}

/** Two scrapes of one engine 2 s apart: 20 more requests, all with a first token in (0.1, 0.5] s. */
function twoScrapes() {
  return [
    readEngineScrape(
      exposition({ running: 1, waiting: 0, success: 10, ttftBuckets: [1, 4, 9, 10], gen: 100 }),
      0,
    )!,
    readEngineScrape(
      exposition({ running: 3, waiting: 7, success: 30, ttftBuckets: [1, 24, 29, 30], gen: 500 }),
      2000,
    )!,
  ] as const;
}

describe('deploy top: reading the engines', () => {
  it('parses samples with labels in any order, escaped quotes, +Inf and NaN, and skips junk', () => {
    const s = parseExposition(
      'a{x="1",y="q\\"uote"} 2\n# comment\nb 3 1700000000000\nnot a sample line\nc{le="+Inf"} +Inf\nd NaN\n',
    );
    assert.deepEqual(
      s.map((x) => [x.name, x.labels, x.value]),
      [
        ['a', { x: '1', y: 'q"uote' }, 2],
        ['b', {}, 3],
        ['c', { le: '+Inf' }, Infinity],
        ['d', {}, NaN],
      ],
    );
  });

  it('sums a counter over its label sets and reads a histogram with its count and sum', () => {
    const s = parseExposition(
      exposition({ running: 2, waiting: 5, success: 10, ttftBuckets: [1, 4, 9, 10], gen: 100 }),
    );
    assert.equal(total(s, 'vllm:request_success_total'), 10);
    assert.deepEqual(histogram(s, 'vllm:time_to_first_token_seconds'), {
      buckets: [
        { le: 0.1, count: 1 },
        { le: 0.5, count: 4 },
        { le: 1, count: 9 },
        { le: Infinity, count: 10 },
      ],
      count: 10,
      sum: 12.5,
    });
  });

  it("computes quantiles as Prometheus's histogram_quantile does", () => {
    const h = {
      buckets: [0.1, 0.5, 1, Infinity].map((le, i) => ({ le, count: [1, 4, 9, 10][i]! })),
      count: 10,
      sum: 0,
    };
    // rank 9 of 10 falls at the top of the (0.5, 1] bucket; rank 5 one fifth into it.
    assert.equal(histogramQuantile(0.9, h), 1);
    assert.ok(Math.abs(histogramQuantile(0.5, h)! - 0.6) < 1e-9);
    // rank in +Inf: the highest finite bound.
    assert.equal(histogramQuantile(0.99, h), 1);
    assert.equal(histogramQuantile(0.9, { buckets: [{ le: 1, count: 0 }], count: 0, sum: 0 }), undefined);
    // what happened between two scrapes only
    const later = {
      ...h,
      buckets: h.buckets.map((b) => ({ le: b.le, count: b.count + (b.le >= 0.1 ? 10 : 0) })),
    };
    // all ten new ones in the first bucket: interpolated from 0, as Prometheus does
    assert.ok(Math.abs(histogramQuantile(0.9, histogramDelta(h, later))! - 0.09) < 1e-9);
  });

  it('gives gauges, rates and p90s over the window between two scrapes, and survives an engine restart', () => {
    const [a, b] = twoScrapes();
    const w = engineWindow(a, b);
    assert.deepEqual(
      {
        running: w.running,
        waiting: w.waiting,
        kv: w.kvUsage,
        rate: w.requestRate,
        gen: w.generationRate,
        win: w.windowMs,
      },
      { running: 3, waiting: 7, kv: 0.25, rate: 10, gen: 200, win: 2000 },
    );
    // 20 new first tokens, all in (0.1, 0.5]: p90 at rank 18 of 20.
    assert.ok(Math.abs(w.ttftP90Ms! - (100 + 400 * (18 / 20))) < 1e-6, String(w.ttftP90Ms));
    const first = engineWindow(undefined, a);
    assert.equal(first.requestRate, 0);
    assert.equal(first.ttftP90Ms, undefined);
    const restarted = readEngineScrape(
      exposition({ running: 0, waiting: 0, success: 2, ttftBuckets: [2, 2, 2, 2], gen: 4 }),
      4000,
    )!;
    const r = engineWindow(b, restarted);
    assert.equal(r.requestRate, 1);
    assert.ok(Math.abs(r.ttftP90Ms! - 90) < 1e-6, 'counted from zero after the restart');
    assert.equal(readEngineScrape('up 1\n', 0), undefined, 'not a vLLM exposition');
  });

  it('has a row per prefill instance and per decode DP rank, and renders missing metrics with their cause', () => {
    const targets = topTargets(seedPlan('2P1D'));
    const units = targets.map((t) => (t.dpRank === undefined ? t.unit : `${t.unit}/dp${t.dpRank}`));
    assert.deepEqual(units.slice(0, 2), ['prefill-0', 'prefill-1']);
    assert.ok(units.slice(2).every((u, i) => u === `decode-0/dp${i}`) && units.length > 3, units.join(' '));
    const [a, b] = twoScrapes();
    const text = renderTop({
      cluster: 'c',
      at: '2026-12-08T00:00:00.000Z',
      windowMs: 2000,
      rows: [
        { ...targets[0]!, load: engineWindow(a, b) },
        { ...targets[1]!, error: 'ECONNREFUSED' },
      ],
    });
    const lines = text.split('\n');
    assert.match(lines[0]!, /^c at .* \(over the last 2\.0 s\)$/);
    assert.match(
      lines[1]!,
      /^UNIT\s+SERVER\s+RUN\s+WAIT\s+KV%\s+REQ\/S\s+TOK\/S\s+TTFT p90 ms\s+ITL p90 ms$/,
    );
    assert.match(lines[2]!, /^prefill-0\s+\S+:\d+\s+3\s+7\s+25\.0\s+10\.0\s+200\s+460\s+-$/);
    assert.match(lines[3]!, /^prefill-1\s+\S+:\d+\s+no metrics: ECONNREFUSED$/);
  });

  it("reads the proxy's stub_status: connections, requests in flight and the request rate", () => {
    const status = (requests: number, writing: number) =>
      `Active connections: 4 \nserver accepts handled requests\n 10 10 ${requests} \nReading: 0 Writing: ${writing} Waiting: 1 \n`;
    const a = readProxyStatus(status(100, 1), 0)!;
    const b = readProxyStatus(status(130, 3), 2000)!;
    assert.deepEqual(proxyWindow(a, b), { active: 4, inFlight: 2, requestRate: 15, windowMs: 2000 });
    assert.equal(proxyWindow(b, readProxyStatus(status(5, 1), 4000)!).requestRate, 0, 'restarted: no rate');
    assert.equal(readProxyStatus('{"status":"ok"}', 0), undefined);
    const text = renderTop({
      cluster: 'c',
      at: 'now',
      windowMs: 2000,
      rows: [],
      proxy: { server: '10.0.0.9:8000', load: proxyWindow(a, b) },
    });
    assert.match(text, /^proxy 10\.0\.0\.9:8000: 2 requests in flight, 4 connections, 15\.0 req\/s$/m);
  });
});
