import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { arrivalSchedule, openArrivals } from '../../src/bench/arrivals';
import { countWords, jsonlDataset, lengthRange, randomDataset } from '../../src/bench/dataset';
import {
  calculateMetrics,
  LatencySeries,
  peakConcurrency,
  type RequestOutcome,
} from '../../src/bench/metrics';
import { checkOptions, parseDuration, parseGoodput, parseRate } from '../../src/bench/options';
import { cdfPoints, plotFormat, plotSpec } from '../../src/bench/plot';
import { progressLine } from '../../src/bench/progress';
import { centered, formatReport } from '../../src/bench/report';
import { SseParser, requestBody } from '../../src/bench/request';
import { buildResult, defaultResultFilename, type BenchConfig } from '../../src/bench/result';

/** The pure parts of `deploy bench`: dataset, arrivals, metrics, report, plot spec, option bounds. */

const close = (actual: number, expected: number, rel = 0.001, what = '') =>
  assert.ok(
    Math.abs(actual - expected) <= Math.abs(expected) * rel + 1e-9,
    `${what} ${actual} is not within ${rel * 100}% of ${expected}`,
  );

function gaps(times: number[]): number[] {
  return times.map((t, i) => t - (i === 0 ? 0 : times[i - 1]!));
}

function meanAndCv(xs: number[]): { mean: number; cv: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / xs.length;
  return { mean, cv: Math.sqrt(variance) / mean };
}

describe('bench dataset', () => {
  it('the same seed gives the same prompts; another seed others', () => {
    const o = { inputLen: 40, outputLen: 10, rangeRatio: 0.5, seed: 7 };
    const a = randomDataset(o);
    const b = randomDataset(o);
    const c = randomDataset({ ...o, seed: 8 });
    for (let i = 0; i < 20; i++) assert.deepEqual(a.request(i), b.request(i));
    // Built in any order, request i is the same.
    assert.deepEqual(randomDataset(o).request(13), a.request(13));
    assert.notDeepEqual(
      [...Array(20).keys()].map((i) => c.request(i).prompt),
      [...Array(20).keys()].map((i) => a.request(i).prompt),
    );
  });

  it("lengths stay within vLLM's range for the ratio, and a prompt has exactly its length in words", () => {
    assert.deepEqual(lengthRange(100, 0.25), [75, 125]);
    assert.deepEqual(lengthRange(7, 0.5), [3, 11]); // floor(3.5), ceil(10.5)
    assert.deepEqual(lengthRange(1, 0.9, 1), [1, 2]); // an output asks for at least one token
    const d = randomDataset({ inputLen: 100, outputLen: 20, rangeRatio: 0.25, seed: 1 });
    const inputs = new Set<number>();
    const outputs = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const r = d.request(i);
      assert.ok(r.promptLen >= 75 && r.promptLen <= 125, `input ${r.promptLen}`);
      assert.ok(r.outputLen >= 15 && r.outputLen <= 25, `output ${r.outputLen}`);
      assert.equal(countWords(r.prompt), r.promptLen);
      inputs.add(r.promptLen);
      outputs.add(r.outputLen);
    }
    // Uniform over the whole range, ends included.
    assert.ok(inputs.has(75) && inputs.has(125) && inputs.size === 51, `${inputs.size} input lengths`);
    assert.ok(outputs.has(15) && outputs.has(25) && outputs.size === 11);
    const fixed = randomDataset({ inputLen: 64, outputLen: 8, rangeRatio: 0, seed: 3 });
    for (let i = 0; i < 10; i++)
      assert.deepEqual([fixed.request(i).promptLen, fixed.request(i).outputLen], [64, 8]);
  });

  it('refuses a range that allows empty prompts', () => {
    assert.throws(
      () => randomDataset({ inputLen: 1, outputLen: 1, rangeRatio: 0.5, seed: 0 }),
      /allows empty prompts/,
    );
  });

  it('reads a JSONL prompt file: prompt, output_len or max_tokens, then the default; in order, cycling', () => {
    const d = jsonlDataset(
      [
        '{"prompt": "one two three", "output_len": 5}',
        '',
        '{"prompt": "four", "max_tokens": 2}',
        '{"prompt": "a b"}',
      ].join('\n'),
      'p.jsonl',
      9,
    );
    assert.deepEqual(d.request(0), { prompt: 'one two three', promptLen: 3, outputLen: 5 });
    assert.deepEqual(d.request(1), { prompt: 'four', promptLen: 1, outputLen: 2 });
    assert.deepEqual(d.request(2), { prompt: 'a b', promptLen: 2, outputLen: 9 });
    assert.deepEqual(d.request(3), d.request(0));
    assert.throws(() => jsonlDataset('{"prompt": 1}', 'p.jsonl', 9), /p\.jsonl:1: expected an object/);
    assert.throws(() => jsonlDataset('{"prompt": "x"}\nnope', 'p.jsonl', 9), /p\.jsonl:2: not a JSON object/);
    assert.throws(() => jsonlDataset('{"prompt": "x", "output_len": 0}', 'p.jsonl', 9), /output_len/);
    assert.throws(() => jsonlDataset('\n\n', 'p.jsonl', 9), /no prompts/);
  });
});

describe('bench arrivals', () => {
  it('Poisson: mean gap 1/rate, coefficient of variation 1; reproducible by seed', () => {
    const it = openArrivals({ rate: 50, burstiness: 1 }, 42);
    const times = Array.from({ length: 20_000 }, () => it.next().value);
    const { mean, cv } = meanAndCv(gaps(times));
    close(mean, 20, 0.03, 'mean gap (ms)');
    close(cv, 1, 0.05, 'cv');
    const again = openArrivals({ rate: 50, burstiness: 1 }, 42);
    assert.deepEqual(
      Array.from({ length: 5 }, () => again.next().value),
      times.slice(0, 5),
    );
  });

  it('burstiness is the gamma shape: same mean, cv 1/√shape', () => {
    for (const shape of [0.25, 4]) {
      const it = openArrivals({ rate: 10, burstiness: shape }, 5);
      const { mean, cv } = meanAndCv(gaps(Array.from({ length: 20_000 }, () => it.next().value)));
      close(mean, 100, 0.05, `mean gap at burstiness ${shape}`);
      close(cv, 1 / Math.sqrt(shape), 0.06, `cv at burstiness ${shape}`);
    }
    const even = openArrivals({ rate: 4, burstiness: Infinity }, 0);
    assert.deepEqual([even.next().value, even.next().value], [250, 500]);
  });

  it('a fixed count is rescaled as vLLM does: the last arrival at n/rate; rate inf sends all at once', () => {
    const times = arrivalSchedule(100, { rate: 20, burstiness: 1 }, 0);
    assert.equal(times.length, 100);
    close(times.at(-1)!, 5000, 1e-9, 'last arrival');
    assert.ok(times.every((t, i) => i === 0 || t >= times[i - 1]!));
    assert.deepEqual(arrivalSchedule(3, { rate: Infinity, burstiness: 1 }, 0), [0, 0, 0]);
  });
});

function outcome(o: Partial<RequestOutcome> & Pick<RequestOutcome, 'index'>): RequestOutcome {
  return {
    ok: true,
    startMs: 0,
    queueMs: 0,
    ttftMs: 0,
    latencyMs: 0,
    itlsMs: [],
    promptLen: 0,
    outputLen: 0,
    ...o,
  };
}

/** Three successes and two failures, with numbers easy to compute by hand. */
const SAMPLES: RequestOutcome[] = [
  // 4 tokens: TTFT 100, three gaps of 20 → E2EL 160, TPOT (160 − 100) / 3 = 20
  outcome({
    index: 0,
    startMs: 0,
    ttftMs: 100,
    itlsMs: [20, 20, 20],
    latencyMs: 160,
    promptLen: 10,
    outputLen: 4,
  }),
  // 2 tokens: TTFT 200, E2EL 240, TPOT 40
  outcome({ index: 1, startMs: 50, ttftMs: 200, itlsMs: [40], latencyMs: 240, promptLen: 20, outputLen: 2 }),
  // 1 token: no TPOT (0 for goodput)
  outcome({ index: 2, startMs: 100, ttftMs: 300, latencyMs: 300, promptLen: 30, outputLen: 1 }),
  outcome({ index: 3, ok: false, startMs: 120, promptLen: 40, error: 'HTTP 502' }),
  outcome({ index: 4, ok: false, startMs: 130, promptLen: 40, error: 'timeout' }),
];

describe('bench metrics', () => {
  it("TTFT, TPOT, ITL, E2EL, throughputs and goodput by vLLM's definitions", () => {
    const m = calculateMetrics(SAMPLES, 2, [50, 99], { ttft: 250, tpot: 30 });
    assert.equal(m.completed, 3);
    assert.equal(m.failed, 2);
    assert.deepEqual(m.failureCauses, { 'HTTP 502': 1, timeout: 1 });
    assert.equal(m.totalInput, 60, 'only completed requests count');
    assert.equal(m.totalOutput, 7);
    assert.equal(m.requestThroughput, 1.5);
    assert.equal(m.outputThroughput, 3.5);
    assert.equal(m.totalTokenThroughput, 33.5);
    // Only request 0 meets both SLOs (1 has TPOT 40, 2 has TTFT 300): 1 per 2 s.
    assert.equal(m.requestGoodput, 0.5);
    assert.equal(m.maxConcurrentRequests, 3);
    assert.equal(m.maxOutputTokensPerS, 7, 'every token within the first second');

    const { ttft, tpot, itl, e2el } = m.latency;
    close(ttft.mean, 200);
    close(ttft.std, Math.sqrt(20_000 / 3));
    close(ttft.median, 200);
    assert.equal(ttft.percentiles[1]![1], 300, 'p99 is the largest value, exactly');
    close(tpot.mean, 30);
    close(tpot.std, 10);
    close(tpot.percentiles[0]![1], 20, 0.001, 'p50 TPOT (nearest rank)');
    close(itl.mean, 25);
    close(itl.median, 20);
    assert.equal(itl.percentiles[1]![1], 40);
    close(e2el.mean, 700 / 3);
    close(e2el.median, 240);
  });

  it('goodput: one SLO at a time; none configured is null; all failed is zeros', () => {
    assert.equal(calculateMetrics(SAMPLES, 2, [99], { e2el: 250 }).requestGoodput, 1);
    // A one-token answer has TPOT 0 for goodput: request 2 passes a TPOT SLO.
    assert.equal(calculateMetrics(SAMPLES, 1, [99], { tpot: 25 }).requestGoodput, 2);
    assert.equal(calculateMetrics(SAMPLES, 1, [99]).requestGoodput, null);
    const none = calculateMetrics(SAMPLES.slice(3), 1, [50, 99]);
    assert.deepEqual(none.latency.ttft, {
      mean: 0,
      median: 0,
      std: 0,
      percentiles: [
        [50, 0],
        [99, 0],
      ],
    });
    assert.equal(none.maxOutputTokensPerS, 0);
  });

  it('percentiles from the histogram stay within 0.1 % over a wide range of values', () => {
    const s = new LatencySeries();
    const values = Array.from({ length: 10_000 }, (_, i) => 0.05 + i * 1.37); // 0.05 ms to 13.7 s
    for (const v of values) s.add(v);
    for (const p of [10, 50, 90, 99, 99.9]) {
      const exact = values[Math.ceil((p / 100) * values.length) - 1]!;
      close(s.percentile(p), exact, 0.001, `p${p}`);
    }
    assert.equal(s.percentile(100), values.at(-1));
  });

  it('peak concurrency treats a request ending as another starts as not overlapping', () => {
    assert.equal(
      peakConcurrency([
        [0, 10],
        [10, 20],
        [5, 15],
      ]),
      2,
    );
    assert.equal(peakConcurrency([]), 0);
  });
});

const CONFIG: BenchConfig = {
  url: 'http://127.0.0.1:8000/v1/completions',
  backend: 'openai',
  model: 'org/deepseek',
  datasetName: 'random',
  numPrompts: 5,
  durationLimitS: null,
  requestRate: 10,
  burstiness: 1,
  maxConcurrency: 4,
  seed: 0,
  percentileMetrics: ['ttft', 'tpot', 'itl', 'e2el'],
  metricPercentiles: [50, 90, 99, 99.9],
  goodput: { ttft: 250 },
};

describe('bench result and report', () => {
  const metrics = calculateMetrics(SAMPLES, 2, CONFIG.metricPercentiles, CONFIG.goodput);
  const result = buildResult(CONFIG, metrics, 2, new Date(2025, 0, 2, 3, 4, 5));

  it("carries vLLM's result keys", () => {
    assert.equal(result.date, '20250102-030405');
    assert.equal(result.completed, 3);
    assert.equal(result.request_rate, 10);
    assert.equal(result.request_goodput, 1);
    for (const key of [
      'mean_ttft_ms',
      'median_tpot_ms',
      'std_itl_ms',
      'p99_e2el_ms',
      'p99.9_ttft_ms',
      'p50_itl_ms',
    ])
      assert.equal(typeof result[key], 'number', key);
    assert.deepEqual(result.failure_causes, { 'HTTP 502': 1, timeout: 1 });
    assert.equal(
      defaultResultFilename(result),
      'deploy-bench-10qps-concurrency4-deepseek-20250102-030405.json',
    );
    const inf = buildResult(
      { ...CONFIG, requestRate: Infinity, maxConcurrency: null },
      metrics,
      2,
      new Date(0),
    );
    assert.equal(inf.request_rate, 'inf');
    assert.match(defaultResultFilename(inf), /^deploy-bench-infqps-deepseek-/);
  });

  it("prints vLLM's layout: headings, rows at column 41, the chosen percentiles, the failures", () => {
    const text = formatReport(result);
    const lines = text.split('\n');
    assert.equal(lines[0], '============ Serving Benchmark Result ============');
    assert.equal(lines.at(-1), '='.repeat(50));
    for (const heading of [
      '---------------Time to First Token----------------',
      '-----Time per Output Token (excl. 1st token)------',
      '---------------Inter-token Latency----------------',
      '----------------End-to-end Latency----------------',
    ])
      assert.ok(lines.includes(heading), heading);
    for (const label of [
      'Successful requests:',
      'Failed requests:',
      'Maximum request concurrency:',
      'Request rate configured (RPS):',
      'Benchmark duration (s):',
      'Total input tokens:',
      'Total generated tokens:',
      'Request throughput (req/s):',
      'Request goodput (req/s):',
      'Output token throughput (tok/s):',
      'Total token throughput (tok/s):',
      'Mean TTFT (ms):',
      'Median TTFT (ms):',
      'P99 TTFT (ms):',
      'P99.9 TPOT (ms):',
      'P90 ITL (ms):',
      'Mean E2EL (ms):',
      'HTTP 502:',
    ]) {
      const line = lines.find((l) => l.startsWith(`${label} `));
      assert.ok(line, `no line ${label}`);
      assert.notEqual(line[41], ' ', `${label}: the value starts at column 41`);
    }
    assert.ok(lines.includes(`${'Successful requests:'.padEnd(40)} 3`));
    assert.ok(lines.includes(`${'Benchmark duration (s):'.padEnd(40)} 2.00`));
    assert.ok(lines.includes(`${'P99 TTFT (ms):'.padEnd(40)} 300.00`));
    // vLLM leaves out the rate at inf and the concurrency and goodput when not set.
    const bare = formatReport(
      buildResult(
        { ...CONFIG, requestRate: Infinity, maxConcurrency: null, goodput: {} },
        calculateMetrics(SAMPLES, 2, CONFIG.metricPercentiles),
        2,
        new Date(),
      ),
    );
    assert.doesNotMatch(bare, /Request rate configured|Maximum request concurrency|Request goodput/);
  });

  it("centres headings as Python's format does (the odd fill on the right)", () => {
    assert.equal(centered('abc', '-', 8), '--abc---');
  });
});

describe('bench plumbing', () => {
  it('parses server-sent events split anywhere, with comments, CRLF and [DONE]', () => {
    const p = new SseParser();
    assert.deepEqual(p.push('data: {"a"'), []);
    assert.deepEqual(p.push(':1}\n\n: ping\n\ndata: {"b":2}\r\n\r\ndata: [DO'), ['{"a":1}', '{"b":2}']);
    assert.deepEqual(p.push('NE]\n\n'), ['[DONE]']);
  });

  it('sends what vllm bench serve sends: streaming with usage, max_tokens or max_completion_tokens', () => {
    const r = { prompt: 'a b', promptLen: 2, outputLen: 3 };
    assert.deepEqual(JSON.parse(requestBody(false, 'm', r, true)), {
      model: 'm',
      prompt: 'a b',
      max_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
      ignore_eos: true,
    });
    assert.deepEqual(JSON.parse(requestBody(true, 'm', r, false)), {
      model: 'm',
      messages: [{ role: 'user', content: 'a b' }],
      max_completion_tokens: 3,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('bounds: rate, concurrency, duration, prompts and the rest, each naming its flag', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ requestRate: 1001 }, /--request-rate must be above 0 and at most 1000/],
      [{ requestRate: 0 }, /--request-rate/],
      [{ maxConcurrency: 257 }, /--max-concurrency must be a whole number from 1 to 256, not 257/],
      [{ maxConcurrency: 1.5 }, /--max-concurrency/],
      [{ durationMs: 3_600_001 }, /--duration must be above 0 and at most 60 min/],
      [{ numPrompts: 100_001 }, /--num-prompts must be a whole number from 1 to 100000/],
      [{ burstiness: 0 }, /--burstiness/],
      [{ randomRangeRatio: 1 }, /--random-range-ratio/],
      [{ randomInputLen: 0 }, /--random-input-len/],
      [{ timeoutMs: 700_000 }, /--request-timeout/],
      [{ metricPercentiles: [0] }, /--metric-percentiles/],
      [{ datasetName: 'jsonl' }, /needs --dataset-path/],
    ];
    for (const [o, message] of bad)
      assert.throws(() => checkOptions({ url: 'x', ...o }), message, JSON.stringify(o));
    const ok = checkOptions({ url: 'x' });
    assert.equal(ok.numPrompts, 1000);
    assert.equal(ok.requestRate, Infinity);
    assert.equal(checkOptions({ url: 'x', durationMs: 1000 }).numPrompts, 100_000);
    assert.equal(parseRate('inf'), Infinity);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('2m'), 120_000);
    assert.throws(() => parseDuration('soon'), /--duration/);
    assert.deepEqual(parseGoodput(['ttft:500', 'tpot:50,e2el:2000']), { ttft: 500, tpot: 50, e2el: 2000 });
    assert.throws(() => parseGoodput(['itl:5']), /itl is not one of ttft, tpot, e2el/);
  });

  it('plot: an SVG or PNG name; the spec holds both panels, their axis titles and only successes', () => {
    assert.equal(plotFormat('a/b.SVG'), 'svg');
    assert.equal(plotFormat('x.png'), 'png');
    assert.throws(() => plotFormat('x.jpg'), /must end in \.svg or \.png/);
    const spec = plotSpec(SAMPLES, 't') as { hconcat: { data: { values: unknown[] } }[] };
    const text = JSON.stringify(spec);
    for (const title of ['request start (s)', 'latency (ms)', 'fraction of requests'])
      assert.ok(text.includes(title));
    assert.equal(spec.hconcat[0]!.data.values.length, 6, 'TTFT and E2EL of 3 successes');
    assert.deepEqual(cdfPoints([3, 1, 2]), [
      [1, 1 / 3],
      [2, 2 / 3],
      [3, 1],
    ]);
    assert.equal(cdfPoints(Array.from({ length: 5000 }, (_, i) => i)).length, 400);
  });

  it('progress: a bar over the requests, or over the time of a --duration run', () => {
    assert.match(
      progressLine({ sent: 6, done: 5, failed: 1, total: 10, elapsedMs: 1234 }, 10),
      /^\[█████░░░░░\] 5\/10 requests · 1 in flight · 1 failed · 1\.2 s$/,
    );
    assert.match(
      progressLine({ sent: 3, done: 3, failed: 0, total: 100, elapsedMs: 3000, durationMs: 12_000 }, 4),
      /^\[█░░░\] 3\.0\/12\.0 s · 3 requests done · 0 in flight$/,
    );
  });
});
