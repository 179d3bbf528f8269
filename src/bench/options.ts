import { durationMs } from '../shared/duration';
import { MAX_CONCURRENCY, MAX_DURATION_MS, MAX_REQUESTS, MAX_TIMEOUT_MS } from '../loadgen';
import { MAX_REQUEST_TOKENS } from './dataset';
import { GOODPUT_METRICS, LATENCY_METRICS, type LatencyMetric, type Slo } from './metrics';

/** Requests per second at most: well above what the simulated cluster serves, and bounded. */
export const MAX_REQUEST_RATE = 1000;

/** What one run sends and measures; the names are `vllm bench serve`'s flags. */
export interface BenchOptions {
  /** The completions URL (…/v1/completions or …/v1/chat/completions); loopback or the simulated cluster. */
  url: string;
  /**
   * The URL is a deployed cluster's own proxy, taken from its workflow: allowed whatever its
   * address. Any other URL must be loopback or the simulated cluster's range.
   */
  clusterProxy?: boolean;
  /** Default: the first model the endpoint's /v1/models lists (as vLLM). */
  model?: string;
  /** Requests to send; default 1000 (vLLM's), or up to 100 000 within `durationMs`. */
  numPrompts?: number;
  /** Stop starting requests after this long (ms, at most 1 h); those in flight finish. */
  durationMs?: number;
  /** Requests per second of the arrival process; default Infinity (all at once, as vLLM). */
  requestRate?: number;
  /** Gamma shape of the arrival gaps; default 1 (Poisson). */
  burstiness?: number;
  /** Requests in flight at most (1–256); the run never has more than 256 in flight. */
  maxConcurrency?: number;
  /** Default 0 (vLLM's). */
  seed?: number;
  /** Default `random`. */
  datasetName?: 'random' | 'jsonl';
  /** The JSONL prompt file of `jsonl`. */
  datasetPath?: string;
  /** Default 1024 (vLLM's). */
  randomInputLen?: number;
  /** Default 128 (vLLM's); also the answer length of JSONL lines that name none. */
  randomOutputLen?: number;
  /** Default 0 (vLLM's). */
  randomRangeRatio?: number;
  /** SLOs in ms for goodput. */
  goodput?: Slo;
  /** Default ttft, tpot, itl, e2el. */
  percentileMetrics?: LatencyMetric[];
  /** Default 50, 90, 99. */
  metricPercentiles?: number[];
  /** Per request, from sending to the last byte; default and most 10 min. */
  timeoutMs?: number;
  /** Keep every request's inter-token gaps (vLLM's --save-detailed arrays). */
  keepItls?: boolean;
  /** Called once the endpoint answered, just before the first request. */
  onStart?: (target: { url: string; model: string }) => void;
  /** Called about every 100 ms while the run goes, and once at its end. */
  onProgress?: (p: BenchProgress) => void;
  /** Stops the run: nothing new is sent, requests in flight are aborted and counted as failed. */
  signal?: AbortSignal;
}

export interface BenchProgress {
  sent: number;
  done: number;
  failed: number;
  /** The request count the run ends at, unless its duration ends it first. */
  total: number;
  elapsedMs: number;
  durationMs?: number;
}

/** BenchOptions with every default filled in and every bound checked. */
export interface CheckedOptions extends Required<
  Omit<
    BenchOptions,
    | 'model'
    | 'durationMs'
    | 'maxConcurrency'
    | 'datasetPath'
    | 'onStart'
    | 'onProgress'
    | 'signal'
    | 'clusterProxy'
  >
> {
  model?: string;
  clusterProxy?: boolean;
  durationMs?: number;
  maxConcurrency?: number;
  datasetPath?: string;
  onStart?: (target: { url: string; model: string }) => void;
  onProgress?: (p: BenchProgress) => void;
  signal?: AbortSignal;
}

export const DEFAULT_PERCENTILE_METRICS: LatencyMetric[] = ['ttft', 'tpot', 'itl', 'e2el'];
export const DEFAULT_METRIC_PERCENTILES = [50, 90, 99];

function wholeInRange(value: number | undefined, flag: string, min: number, max: number): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new Error(`${flag} must be a whole number from ${min} to ${max}, not ${value}`);
}

/**
 * Defaults and bounds of a run, checked before anything is sent: a value out of bounds is an
 * error that names the flag and its range.
 */
export function checkOptions(o: BenchOptions): CheckedOptions {
  const requestRate = o.requestRate ?? Infinity;
  if (!(requestRate === Infinity || (requestRate > 0 && requestRate <= MAX_REQUEST_RATE)))
    throw new Error(
      `--request-rate must be above 0 and at most ${MAX_REQUEST_RATE} (or inf), not ${requestRate}`,
    );
  const burstiness = o.burstiness ?? 1;
  if (!(burstiness > 0)) throw new Error(`--burstiness must be above 0, not ${burstiness}`);
  wholeInRange(o.maxConcurrency, '--max-concurrency', 1, MAX_CONCURRENCY);
  wholeInRange(o.numPrompts, '--num-prompts', 1, MAX_REQUESTS);
  if (o.durationMs !== undefined && !(o.durationMs > 0 && o.durationMs <= MAX_DURATION_MS))
    throw new Error(
      `--duration must be above 0 and at most ${MAX_DURATION_MS / 60_000} min, not ${o.durationMs} ms`,
    );
  if (o.timeoutMs !== undefined && !(o.timeoutMs > 0 && o.timeoutMs <= MAX_TIMEOUT_MS))
    throw new Error(`--request-timeout must be above 0 and at most ${MAX_TIMEOUT_MS / 60_000} min`);
  wholeInRange(o.randomInputLen, '--random-input-len', 1, MAX_REQUEST_TOKENS);
  wholeInRange(o.randomOutputLen, '--random-output-len', 1, MAX_REQUEST_TOKENS);
  const rangeRatio = o.randomRangeRatio ?? 0;
  if (!(rangeRatio >= 0 && rangeRatio < 1))
    throw new Error(`--random-range-ratio must be at least 0 and below 1, not ${rangeRatio}`);
  wholeInRange(o.seed, '--seed', 0, 2 ** 32 - 1);
  const datasetName = o.datasetName ?? 'random';
  if (datasetName === 'jsonl' && !o.datasetPath) throw new Error('--dataset-name jsonl needs --dataset-path');
  if (datasetName === 'random' && o.datasetPath)
    throw new Error('--dataset-path is for --dataset-name jsonl (the random dataset has no file)');
  for (const [metric, ms] of Object.entries(o.goodput ?? {})) {
    if (!(GOODPUT_METRICS as readonly string[]).includes(metric))
      throw new Error(`--goodput: ${metric} is not one of ${GOODPUT_METRICS.join(', ')}`);
    if (!(ms >= 0 && Number.isFinite(ms))) throw new Error(`--goodput: ${metric}:${ms} must be ms ≥ 0`);
  }
  const percentileMetrics = o.percentileMetrics ?? DEFAULT_PERCENTILE_METRICS;
  for (const m of percentileMetrics)
    if (!LATENCY_METRICS.includes(m))
      throw new Error(`--percentile-metrics: ${m} is not one of ${LATENCY_METRICS.join(', ')}`);
  const metricPercentiles = o.metricPercentiles ?? DEFAULT_METRIC_PERCENTILES;
  for (const p of metricPercentiles)
    if (!(p > 0 && p <= 100)) throw new Error(`--metric-percentiles: ${p} is not above 0 and at most 100`);
  return {
    url: o.url,
    ...(o.model !== undefined ? { model: o.model } : {}),
    numPrompts: o.numPrompts ?? (o.durationMs !== undefined ? MAX_REQUESTS : 1000),
    ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
    requestRate,
    burstiness,
    ...(o.maxConcurrency !== undefined ? { maxConcurrency: o.maxConcurrency } : {}),
    seed: o.seed ?? 0,
    datasetName,
    ...(o.datasetPath !== undefined ? { datasetPath: o.datasetPath } : {}),
    randomInputLen: o.randomInputLen ?? 1024,
    randomOutputLen: o.randomOutputLen ?? 128,
    randomRangeRatio: rangeRatio,
    goodput: o.goodput ?? {},
    percentileMetrics,
    metricPercentiles,
    timeoutMs: o.timeoutMs ?? MAX_TIMEOUT_MS,
    keepItls: o.keepItls ?? false,
    ...(o.onStart ? { onStart: o.onStart } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.clusterProxy ? { clusterProxy: true } : {}),
  };
}

// Parsers of the command line's strings, each with the message of the flag it parses.

/** A number, or `inf`. */
export function parseRate(value: string, flag = '--request-rate'): number {
  if (/^\+?inf(inity)?$/i.test(value.trim())) return Infinity;
  const n = Number(value);
  if (value.trim() === '' || Number.isNaN(n))
    throw new Error(`${flag}: expected a number or inf, not ${value}`);
  return n;
}

export function parseNumber(value: string, flag: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${flag}: expected a number, not ${value}`);
  return n;
}

/** `90s`, `15m`, `1h`, `500ms`, or a number of seconds (as `vllm bench serve` counts time). */
export function parseDuration(value: string): number {
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1000 : durationMs(value);
  if (ms === undefined)
    throw new Error(`--duration: expected seconds or a duration like 90s, 15m or 1h, not ${value}`);
  return ms;
}

/** `ttft:500 tpot:50` (vLLM's space-separated pairs; commas also separate them). */
export function parseGoodput(pairs: readonly string[]): Slo {
  const slo: Slo = {};
  for (const pair of pairs.flatMap((p) => p.split(',')).filter(Boolean)) {
    const m = /^(\w+):([^:]+)$/.exec(pair.trim());
    if (!m) {
      // A variadic option takes the words after it: a cluster name there is read as an SLO.
      const hint = pair.includes(':') ? '' : ' (name the cluster before --goodput)';
      throw new Error(`--goodput: expected KEY:MS pairs like ttft:500 tpot:50, not ${pair}${hint}`);
    }
    const [, name, ms] = m;
    if (!(GOODPUT_METRICS as readonly string[]).includes(name!))
      throw new Error(`--goodput: ${name} is not one of ${GOODPUT_METRICS.join(', ')}`);
    slo[name as keyof Slo] = parseNumber(ms!, `--goodput ${name}`);
  }
  return slo;
}

export function parseMetrics(value: string): LatencyMetric[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const n of names)
    if (!(LATENCY_METRICS as readonly string[]).includes(n))
      throw new Error(`--percentile-metrics: ${n} is not one of ${LATENCY_METRICS.join(', ')}`);
  return names as LatencyMetric[];
}

export function parsePercentiles(value: string): number[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => parseNumber(s, '--metric-percentiles'));
}
