import type { LatencySummary, Sample } from './types';

/** Nearest-rank percentiles of successful latencies (all 0 when none succeeded). */
export function latencySummary(latencies: number[]): LatencySummary {
  if (latencies.length === 0) return { p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
  return { p50: at(50), p90: at(90), p99: at(99), max: sorted.at(-1)! };
}

export interface FailureWindow {
  failures: number;
  /** Start of the earliest failed request, ms since the run's start; null without failures. */
  firstFailureAt: number | null;
  /** End of the latest failed request, ms since the run's start; null without failures. */
  lastFailureAt: number | null;
  /** lastFailureAt - firstFailureAt: how long clients saw failures (0 without failures). */
  spanMs: number;
  /** Successful requests that started inside the window (traffic that got through meanwhile). */
  okInside: number;
}

/** The outage seen by clients during a run: from the first failed request to the last. */
export function failureWindow(samples: readonly Sample[]): FailureWindow {
  const failed = samples.filter((s) => !s.ok);
  if (failed.length === 0)
    return { failures: 0, firstFailureAt: null, lastFailureAt: null, spanMs: 0, okInside: 0 };
  const first = Math.min(...failed.map((s) => s.startMs));
  const last = Math.max(...failed.map((s) => s.endMs));
  return {
    failures: failed.length,
    firstFailureAt: first,
    lastFailureAt: last,
    spanMs: last - first,
    okInside: samples.filter((s) => s.ok && s.startMs >= first && s.startMs <= last).length,
  };
}
