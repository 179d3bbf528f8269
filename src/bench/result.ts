import type { LatencyMetric, MetricsSummary, RequestOutcome, Slo } from './metrics';

/** How a run was set up: what the result file records beside the numbers. */
export interface BenchConfig {
  /** The completions URL the requests went to. */
  url: string;
  /** vLLM's backend name for the endpoint: `openai` (completions) or `openai-chat`. */
  backend: 'openai' | 'openai-chat';
  model: string;
  datasetName: 'random' | 'jsonl';
  /** The request count asked for (null when only a duration bounds the run). */
  numPrompts: number | null;
  /** `--duration` in seconds, when given. */
  durationLimitS: number | null;
  requestRate: number;
  burstiness: number;
  maxConcurrency: number | null;
  seed: number;
  percentileMetrics: LatencyMetric[];
  metricPercentiles: number[];
  goodput: Slo;
}

/**
 * The result as `vllm bench serve --save-result` writes it (same keys, seconds for the duration,
 * ms for latencies, `pNN_<metric>_ms` per chosen percentile), plus what vLLM has no key for: the
 * URL, dataset, seed, duration limit, SLOs and the failures per cause.
 */
export interface BenchResult {
  date: string;
  endpoint_type: string;
  backend: string;
  label: string | null;
  model_id: string;
  tokenizer_id: null;
  num_prompts: number | null;
  request_rate: number | 'inf';
  burstiness: number | 'inf';
  max_concurrency: number | null;
  duration: number;
  completed: number;
  failed: number;
  total_input_tokens: number;
  total_output_tokens: number;
  request_throughput: number;
  request_goodput: number | null;
  output_throughput: number;
  total_token_throughput: number;
  max_output_tokens_per_s: number;
  max_concurrent_requests: number;
  url: string;
  dataset_name: string;
  seed: number;
  duration_limit_s: number | null;
  goodput: Slo;
  percentile_metrics: LatencyMetric[];
  metric_percentiles: number[];
  failure_causes: Record<string, number>;
  /** mean_/median_/std_/pNN_<metric>_ms; with --save-detailed, vLLM's per-request arrays. */
  [key: string]: unknown;
}

/** vLLM's `%Y%m%d-%H%M%S`, local time. */
export function resultDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

/** `99` → `99`, `99.9` → `99.9`: vLLM's p_word. */
export function percentileWord(p: number): string {
  return String(p);
}

const inf = (n: number): number | 'inf' => (n === Infinity ? 'inf' : n);

export function buildResult(
  config: BenchConfig,
  m: MetricsSummary,
  durationS: number,
  date: Date,
): BenchResult {
  const result: BenchResult = {
    date: resultDate(date),
    endpoint_type: config.backend,
    backend: config.backend,
    label: null,
    model_id: config.model,
    tokenizer_id: null,
    num_prompts: config.numPrompts,
    request_rate: inf(config.requestRate),
    burstiness: inf(config.burstiness),
    max_concurrency: config.maxConcurrency,
    duration: durationS,
    completed: m.completed,
    failed: m.failed,
    total_input_tokens: m.totalInput,
    total_output_tokens: m.totalOutput,
    request_throughput: m.requestThroughput,
    request_goodput: m.requestGoodput,
    output_throughput: m.outputThroughput,
    total_token_throughput: m.totalTokenThroughput,
    max_output_tokens_per_s: m.maxOutputTokensPerS,
    max_concurrent_requests: m.maxConcurrentRequests,
    url: config.url,
    dataset_name: config.datasetName,
    seed: config.seed,
    duration_limit_s: config.durationLimitS,
    goodput: config.goodput,
    percentile_metrics: config.percentileMetrics,
    metric_percentiles: config.metricPercentiles,
    failure_causes: m.failureCauses,
  };
  for (const metric of config.percentileMetrics) {
    const s = m.latency[metric];
    result[`mean_${metric}_ms`] = s.mean;
    result[`median_${metric}_ms`] = s.median;
    result[`std_${metric}_ms`] = s.std;
    for (const [p, value] of s.percentiles) result[`p${percentileWord(p)}_${metric}_ms`] = value;
  }
  return result;
}

/** vLLM's per-request arrays (`--save-detailed`), in seconds as vLLM writes them. */
export function detailedArrays(outcomes: readonly RequestOutcome[]): Record<string, unknown[]> {
  const s = (ms: number) => ms / 1000;
  return {
    input_lens: outcomes.map((o) => o.promptLen),
    output_lens: outcomes.map((o) => o.outputLen),
    ttfts: outcomes.map((o) => s(o.ttftMs)),
    itls: outcomes.map((o) => o.itlsMs.map(s)),
    latencies: outcomes.map((o) => s(o.latencyMs)),
    start_times: outcomes.map((o) => s(o.startMs)),
    queue_times: outcomes.map((o) => s(o.queueMs)),
    errors: outcomes.map((o) => o.error ?? ''),
  };
}

/**
 * vLLM's file name when none is given: `{label}-{rate}qps[-concurrency{N}]-{model}-{date}.json`,
 * with this tool's name as the label.
 */
export function defaultResultFilename(r: BenchResult): string {
  const concurrency = r.max_concurrency !== null ? `-concurrency${r.max_concurrency}` : '';
  const model = r.model_id.split('/').at(-1)!;
  return `deploy-bench-${r.request_rate}qps${concurrency}-${model}-${r.date}.json`;
}
