import { build, type Histogram } from 'hdr-histogram-js';

/** One request as the benchmark saw it. Times in ms; `startMs` since the run's start. */
export interface RequestOutcome {
  index: number;
  /** HTTP 200 and at least one streamed token (vLLM's success). */
  ok: boolean;
  /** When the request was sent. */
  startMs: number;
  /** How long it waited for a free slot under `--max-concurrency` (vLLM's client queue time). */
  queueMs: number;
  /** Time to the first chunk with a token; 0 when it failed. */
  ttftMs: number;
  /** To the last chunk with a token (E2EL); 0 when it failed. */
  latencyMs: number;
  /** Gaps between chunks with a token: output tokens − 1 of them when each chunk carries one. */
  itlsMs: number[];
  /** Input tokens: the engine's `usage.prompt_tokens` when it streamed usage, else the words sent. */
  promptLen: number;
  /** Output tokens: `usage.completion_tokens` when streamed, else chunks with a token; 0 when failed. */
  outputLen: number;
  /** Why it failed: `HTTP 502`, `ECONNREFUSED`, `timeout`, … */
  error?: string;
}

export const LATENCY_METRICS = ['ttft', 'tpot', 'itl', 'e2el'] as const;
export type LatencyMetric = (typeof LATENCY_METRICS)[number];
export const GOODPUT_METRICS = ['ttft', 'tpot', 'e2el'] as const;
export type GoodputMetric = (typeof GOODPUT_METRICS)[number];
/** Service level objectives for goodput, ms per metric. */
export type Slo = Partial<Record<GoodputMetric, number>>;

export interface LatencyStats {
  mean: number;
  median: number;
  std: number;
  /** [percentile, value] for each requested percentile. */
  percentiles: [number, number][];
}

export interface MetricsSummary {
  completed: number;
  failed: number;
  totalInput: number;
  totalOutput: number;
  requestThroughput: number;
  /** Null without SLOs. */
  requestGoodput: number | null;
  outputThroughput: number;
  totalTokenThroughput: number;
  /** Most output tokens received within one second of the run (seconds counted from its start). */
  maxOutputTokensPerS: number;
  /** Most successful requests in flight at once. */
  maxConcurrentRequests: number;
  latency: Record<LatencyMetric, LatencyStats>;
  /** Failed requests per cause. */
  failureCauses: Record<string, number>;
}

/** Values are recorded in nanoseconds: 3 significant digits keep every percentile within 0.1 %. */
const NS_PER_MS = 1e6;

/**
 * One latency metric: exact mean and (population) standard deviation as numpy's mean and std,
 * median and percentiles from an HdrHistogram (nearest rank, 3 significant digits), clamped to
 * the exact smallest and largest values seen. Nothing per value is kept, so a run of 100 000
 * requests with thousands of tokens each costs a few hundred kilobytes.
 */
export class LatencySeries {
  private readonly histogram: Histogram = build({
    bitBucketSize: 64,
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2 * 3600 * 1000 * NS_PER_MS,
    autoResize: true,
  });
  private n = 0;
  private mean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;

  get count(): number {
    return this.n;
  }

  add(ms: number): void {
    this.histogram.recordValue(Math.max(0, Math.round(ms * NS_PER_MS)));
    // Welford: numerically stable over many values.
    this.n++;
    const delta = ms - this.mean;
    this.mean += delta / this.n;
    this.m2 += delta * (ms - this.mean);
    this.min = Math.min(this.min, ms);
    this.max = Math.max(this.max, ms);
  }

  /** At percentile p (0 < p ≤ 100), ms; 0 when empty (vLLM's `np.percentile(x or 0, p)`). */
  percentile(p: number): number {
    if (this.n === 0) return 0;
    const value = this.histogram.getValueAtPercentile(p) / NS_PER_MS;
    return Math.min(this.max, Math.max(this.min, value));
  }

  stats(percentiles: readonly number[]): LatencyStats {
    return {
      mean: this.n === 0 ? 0 : this.mean,
      median: this.percentile(50),
      std: this.n === 0 ? 0 : Math.sqrt(this.m2 / this.n),
      percentiles: percentiles.map((p) => [p, this.percentile(p)]),
    };
  }
}

/**
 * The metrics of a run, by vLLM's definitions (calculate_metrics in vllm/benchmarks/serve.py), fed
 * one request at a time as requests end:
 * - TTFT: time to the first chunk carrying a token; E2EL: to the last one.
 * - TPOT per request: (E2EL − TTFT) / (output tokens − 1), for requests with more than one token.
 * - ITL: every gap between two chunks carrying a token, over all requests.
 * - throughputs: completed requests, output tokens, input + output tokens, per second of the run.
 * - goodput: completed requests meeting every SLO (TPOT counts as 0 for one-token answers),
 *   per second of the run.
 */
export class BenchMetrics {
  private readonly series: Record<LatencyMetric, LatencySeries> = {
    ttft: new LatencySeries(),
    tpot: new LatencySeries(),
    itl: new LatencySeries(),
    e2el: new LatencySeries(),
  };
  private completed = 0;
  private failed = 0;
  private good = 0;
  private totalInput = 0;
  private totalOutput = 0;
  private readonly tokensPerSecond = new Map<number, number>();
  /** [start, end) of each successful request, for the peak concurrency. */
  private readonly spans: [number, number][] = [];
  private readonly causes: Record<string, number> = {};

  constructor(private readonly slo: Slo = {}) {}

  add(r: RequestOutcome): void {
    if (!r.ok) {
      this.failed++;
      const cause = r.error ?? 'unknown';
      this.causes[cause] = (this.causes[cause] ?? 0) + 1;
      return;
    }
    this.completed++;
    this.totalInput += r.promptLen;
    this.totalOutput += r.outputLen;
    const tpot = r.outputLen > 1 ? (r.latencyMs - r.ttftMs) / (r.outputLen - 1) : 0;
    if (r.outputLen > 1) this.series.tpot.add(tpot);
    this.series.ttft.add(r.ttftMs);
    this.series.e2el.add(r.latencyMs);
    let tokenAt = r.startMs + r.ttftMs;
    this.countToken(tokenAt);
    for (const itl of r.itlsMs) {
      this.series.itl.add(itl);
      this.countToken((tokenAt += itl));
    }
    this.spans.push([r.startMs, r.startMs + r.latencyMs]);
    const measured: Record<GoodputMetric, number> = { ttft: r.ttftMs, tpot, e2el: r.latencyMs };
    if (GOODPUT_METRICS.every((m) => this.slo[m] === undefined || measured[m] <= this.slo[m])) this.good++;
  }

  private countToken(atMs: number): void {
    const second = Math.floor(atMs / 1000);
    this.tokensPerSecond.set(second, (this.tokensPerSecond.get(second) ?? 0) + 1);
  }

  summary(durationS: number, percentiles: readonly number[]): MetricsSummary {
    const stats = (m: LatencyMetric) => this.series[m].stats(percentiles);
    return {
      completed: this.completed,
      failed: this.failed,
      totalInput: this.totalInput,
      totalOutput: this.totalOutput,
      requestThroughput: this.completed / durationS,
      requestGoodput: Object.keys(this.slo).length > 0 ? this.good / durationS : null,
      outputThroughput: this.totalOutput / durationS,
      totalTokenThroughput: (this.totalInput + this.totalOutput) / durationS,
      maxOutputTokensPerS: Math.max(0, ...this.tokensPerSecond.values()),
      maxConcurrentRequests: peakConcurrency(this.spans),
      latency: { ttft: stats('ttft'), tpot: stats('tpot'), itl: stats('itl'), e2el: stats('e2el') },
      failureCauses: { ...this.causes },
    };
  }
}

/** Most half-open intervals [start, end) overlapping at one instant (an end before a start). */
export function peakConcurrency(spans: readonly [number, number][]): number {
  const events = spans.flatMap(([s, e]): [number, number][] => [
    [s, 1],
    [e, -1],
  ]);
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let now = 0;
  let peak = 0;
  for (const [, delta] of events) peak = Math.max(peak, (now += delta));
  return peak;
}

/** The metrics of finished requests at once: what BenchMetrics accumulates during a run. */
export function calculateMetrics(
  outcomes: readonly RequestOutcome[],
  durationS: number,
  percentiles: readonly number[],
  slo: Slo = {},
): MetricsSummary {
  const metrics = new BenchMetrics(slo);
  for (const r of outcomes) metrics.add(r);
  return metrics.summary(durationS, percentiles);
}
