import type { LatencyMetric } from './metrics';
import { percentileWord, type BenchResult } from './result';

const WIDTH = 50;

/** Python's `'{s:{c}^{n}}'.format(...)`: centred, the odd fill character on the right. */
export function centered(title: string, fill: string, width = WIDTH): string {
  const pad = Math.max(0, width - title.length);
  const left = Math.floor(pad / 2);
  return fill.repeat(left) + title + fill.repeat(pad - left);
}

/** vLLM's `'{:<40} {:<10}'` rows, without the trailing blanks. */
function row(label: string, value: string | number): string {
  return `${label.padEnd(40)} ${value}`;
}

const f2 = (n: number) => n.toFixed(2);

/** vLLM's heading and name per metric (process_one_metric in vllm/benchmarks/serve.py). */
const METRIC_TEXT: Record<LatencyMetric, { name: string; header: string }> = {
  ttft: { name: 'TTFT', header: 'Time to First Token' },
  tpot: { name: 'TPOT', header: 'Time per Output Token (excl. 1st token)' },
  itl: { name: 'ITL', header: 'Inter-token Latency' },
  e2el: { name: 'E2EL', header: 'End-to-end Latency' },
};

/** What vLLM prints before the run: the traffic it is about to send. */
export function formatPreamble(
  r: Pick<BenchResult, 'request_rate' | 'burstiness' | 'max_concurrency'>,
): string {
  const distribution = r.burstiness === 1 ? 'Poisson process' : 'Gamma distribution';
  return [
    `Traffic request rate: ${r.request_rate}`,
    `Burstiness factor: ${r.burstiness} (${distribution})`,
    `Maximum request concurrency: ${r.max_concurrency ?? 'None'}`,
  ].join('\n');
}

/**
 * The report in `vllm bench serve`'s layout, so its readers find every number where they expect
 * it; the failures per cause close it (vLLM prints the first ten error texts instead).
 */
export function formatReport(r: BenchResult): string {
  const lines = [centered(' Serving Benchmark Result ', '=')];
  lines.push(row('Successful requests:', r.completed), row('Failed requests:', r.failed));
  if (r.max_concurrency !== null) lines.push(row('Maximum request concurrency:', r.max_concurrency));
  if (r.request_rate !== 'inf') lines.push(row('Request rate configured (RPS):', f2(r.request_rate)));
  lines.push(
    row('Benchmark duration (s):', f2(r.duration)),
    row('Total input tokens:', r.total_input_tokens),
    row('Total generated tokens:', r.total_output_tokens),
    row('Request throughput (req/s):', f2(r.request_throughput)),
  );
  if (r.request_goodput !== null) lines.push(row('Request goodput (req/s):', f2(r.request_goodput)));
  lines.push(
    row('Output token throughput (tok/s):', f2(r.output_throughput)),
    row('Peak output token throughput (tok/s):', f2(r.max_output_tokens_per_s)),
    row('Peak concurrent requests:', f2(r.max_concurrent_requests)),
    row('Total token throughput (tok/s):', f2(r.total_token_throughput)),
  );
  for (const metric of r.percentile_metrics) {
    const { name, header } = METRIC_TEXT[metric];
    const value = (key: string) => f2(r[key] as number);
    lines.push(
      centered(header, '-'),
      row(`Mean ${name} (ms):`, value(`mean_${metric}_ms`)),
      row(`Median ${name} (ms):`, value(`median_${metric}_ms`)),
    );
    for (const p of r.metric_percentiles) {
      const word = percentileWord(p);
      lines.push(row(`P${word} ${name} (ms):`, value(`p${word}_${metric}_ms`)));
    }
  }
  const causes = Object.entries(r.failure_causes).sort((a, b) => b[1] - a[1]);
  if (causes.length > 0) {
    lines.push(centered('Failed Requests', '-'));
    for (const [cause, n] of causes) lines.push(row(`${cause}:`, n));
  }
  lines.push('='.repeat(WIDTH));
  return lines.join('\n');
}
