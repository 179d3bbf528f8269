import {
  histogram,
  histogramDelta,
  histogramQuantile,
  parseExposition,
  total,
  type Histogram,
} from './exposition';

/**
 * The vLLM metrics `deploy top` reads (vLLM 0.9's V1 names, as the simulated engines export
 * them — docs/engine-model.md): what one scrape of one API server says.
 */
export const VLLM_METRICS = {
  running: 'vllm:num_requests_running',
  waiting: 'vllm:num_requests_waiting',
  kvUsage: 'vllm:gpu_cache_usage_perc',
  success: 'vllm:request_success_total',
  promptTokens: 'vllm:prompt_tokens_total',
  generationTokens: 'vllm:generation_tokens_total',
  ttft: 'vllm:time_to_first_token_seconds',
  itl: 'vllm:time_per_output_token_seconds',
} as const;

export interface EngineScrape {
  /** ms since the epoch, when the scrape answered. */
  at: number;
  running: number;
  waiting: number;
  /** 0..1 */
  kvUsage: number;
  success: number;
  promptTokens: number;
  generationTokens: number;
  ttft?: Histogram;
  itl?: Histogram;
}

/** One scrape's exposition text as an EngineScrape; undefined when it is no vLLM exposition. */
export function readEngineScrape(text: string, at: number): EngineScrape | undefined {
  const s = parseExposition(text);
  const running = total(s, VLLM_METRICS.running);
  if (running === undefined) return undefined;
  const ttft = histogram(s, VLLM_METRICS.ttft);
  const itl = histogram(s, VLLM_METRICS.itl);
  return {
    at,
    running,
    waiting: total(s, VLLM_METRICS.waiting) ?? 0,
    kvUsage: total(s, VLLM_METRICS.kvUsage) ?? 0,
    success: total(s, VLLM_METRICS.success) ?? 0,
    promptTokens: total(s, VLLM_METRICS.promptTokens) ?? 0,
    generationTokens: total(s, VLLM_METRICS.generationTokens) ?? 0,
    ...(ttft ? { ttft } : {}),
    ...(itl ? { itl } : {}),
  };
}

/** One API server's load over the window between two scrapes (rates and p90s need two). */
export interface EngineWindow {
  running: number;
  waiting: number;
  kvUsage: number;
  /** Finished requests per second. */
  requestRate: number;
  /** Generated tokens per second. */
  generationRate: number;
  /** Over the requests that got their first token in the window; undefined when none did. */
  ttftP90Ms?: number;
  itlP90Ms?: number;
  windowMs: number;
}

const perSecond = (delta: number, ms: number) => (ms > 0 ? Math.max(0, delta) / (ms / 1000) : 0);

function p90Ms(before: Histogram | undefined, now: Histogram | undefined): number | undefined {
  if (!now) return undefined;
  const q = histogramQuantile(0.9, histogramDelta(before, now));
  return q === undefined ? undefined : q * 1000;
}

/** Gauges from `now`, rates and percentiles from what changed since `before` (if any). */
export function engineWindow(before: EngineScrape | undefined, now: EngineScrape): EngineWindow {
  const ms = before ? now.at - before.at : 0;
  // A restarted engine starts its counters again: count from zero then.
  const restarted = before !== undefined && now.success < before.success;
  const base = before && !restarted ? before : undefined;
  const ttft = p90Ms(base?.ttft, now.ttft);
  const itl = p90Ms(base?.itl, now.itl);
  return {
    running: now.running,
    waiting: now.waiting,
    kvUsage: now.kvUsage,
    requestRate: before ? perSecond(now.success - (base?.success ?? 0), ms) : 0,
    generationRate: before ? perSecond(now.generationTokens - (base?.generationTokens ?? 0), ms) : 0,
    ...(ttft !== undefined && before ? { ttftP90Ms: ttft } : {}),
    ...(itl !== undefined && before ? { itlP90Ms: itl } : {}),
    windowMs: ms,
  };
}
