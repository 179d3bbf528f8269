import { Context } from '@temporalio/activity';
import { engineWindow, readEngineScrape, VLLM_METRICS, type EngineScrape } from '../top/engineLoad';
import type { ProbeHost } from './types';

/**
 * The lines of an engine's /metrics the health probe passes back when the worker exports load
 * (`deploy worker --metrics-port`): the gauges and counters `deploy top` shows, and the bucket
 * lines of the two latency histograms its p90s come from. grep keeps the rest on the host.
 */
export const LOAD_METRIC_PATTERN = `^(${[
  VLLM_METRICS.running,
  VLLM_METRICS.waiting,
  VLLM_METRICS.kvUsage,
  VLLM_METRICS.success,
  VLLM_METRICS.generationTokens,
  `${VLLM_METRICS.ttft}_bucket`,
  `${VLLM_METRICS.itl}_bucket`,
].join('|')})[{ ]`;

/** Every gauge the worker exports per API server, with what it means (the Grafana panels use them). */
export const LOAD_GAUGES = {
  omni_deploy_engine_requests_running: 'Requests running on the API server (vllm:num_requests_running)',
  omni_deploy_engine_requests_waiting: 'Requests waiting on the API server (vllm:num_requests_waiting)',
  omni_deploy_engine_kv_cache_usage: 'KV-cache use of the API server, 0..1 (vllm:gpu_cache_usage_perc)',
  omni_deploy_engine_request_rate: 'Requests finished per second over the last probe interval',
  omni_deploy_engine_generation_tokens_rate: 'Tokens generated per second over the last probe interval',
  omni_deploy_engine_ttft_p90_seconds: 'Time to first token p90 over the last probe interval',
  omni_deploy_engine_itl_p90_seconds: 'Inter-token latency p90 over the last probe interval',
} as const;

type Gauge = keyof typeof LOAD_GAUGES;

/**
 * The cluster's load as worker metrics: each probe round's scrape of every API server, turned into
 * per-interval gauges like `deploy top`'s (the previous scrape of each server is kept here, in the
 * worker's memory: metrics only, nothing the workflow sees).
 */
export class EngineLoadExport {
  private readonly last = new Map<string, EngineScrape>();

  /** `metrics PORT <sample line>` lines of a probe's output, per port. */
  static linesByPort(stdout: string): Map<number, string> {
    const out = new Map<number, string>();
    for (const line of stdout.split('\n')) {
      const m = /^metrics (\d+) (.*)$/.exec(line);
      if (!m) continue;
      const port = Number(m[1]);
      out.set(port, `${out.get(port) ?? ''}${m[2]}\n`);
    }
    return out;
  }

  record(cluster: string, host: ProbeHost, stdout: string, at = Date.now()): void {
    const byPort = EngineLoadExport.linesByPort(stdout);
    const meter = Context.current().metricMeter;
    for (const s of host.servers) {
      const key = `${cluster}/${host.address}:${s.port}`;
      const scrape = readEngineScrape(byPort.get(s.port) ?? '', at);
      if (!scrape) {
        this.last.delete(key);
        continue;
      }
      const w = engineWindow(this.last.get(key), scrape);
      this.last.set(key, scrape);
      const tags = {
        cluster,
        unit: host.unit ?? host.target.name,
        host: host.target.name,
        server: `${host.address}:${s.port}`,
        dp_rank: s.dpRank,
      };
      const values: Record<Gauge, number | undefined> = {
        omni_deploy_engine_requests_running: w.running,
        omni_deploy_engine_requests_waiting: w.waiting,
        omni_deploy_engine_kv_cache_usage: w.kvUsage,
        omni_deploy_engine_request_rate: w.windowMs > 0 ? w.requestRate : undefined,
        omni_deploy_engine_generation_tokens_rate: w.windowMs > 0 ? w.generationRate : undefined,
        omni_deploy_engine_ttft_p90_seconds: w.ttftP90Ms === undefined ? undefined : w.ttftP90Ms / 1000,
        omni_deploy_engine_itl_p90_seconds: w.itlP90Ms === undefined ? undefined : w.itlP90Ms / 1000,
      };
      for (const [name, value] of Object.entries(values) as [Gauge, number | undefined][]) {
        if (value !== undefined) meter.createGauge(name, 'float', '', LOAD_GAUGES[name]).set(value, tags);
      }
    }
  }
}
