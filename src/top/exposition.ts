/**
 * Samples of a Prometheus text exposition (format 0.0.4), as the engines' /metrics serve it.
 * Hand-written rather than parse-prometheus-text-format 1.1.1: that library drops a histogram's
 * labels, `_count` and `_sum`, and splits `x_total` from its counter family — exactly the parts
 * `deploy top` reads from vLLM's prometheus_client output.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?\s*/gy;

function labelsOf(text: string | undefined): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  if (!text) return labels;
  LABEL.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = LABEL.exec(text)) !== null) {
    labels[m[1]!] = m[2]!.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    if (LABEL.lastIndex === text.length) return labels;
  }
  return undefined; // not label syntax: the line is skipped
}

function numberOf(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text); // NaN stays NaN
}

/** Every sample line; comments, blank and malformed lines are skipped. */
export function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels = labelsOf(m[2]);
    if (labels) samples.push({ name: m[1]!, labels, value: numberOf(m[3]!) });
  }
  return samples;
}

/** The sum of a metric over every label set (a counter split by finished_reason, a gauge per engine). */
export function total(samples: readonly Sample[], name: string): number | undefined {
  const matching = samples.filter((s) => s.name === name);
  return matching.length === 0 ? undefined : matching.reduce((n, s) => n + s.value, 0);
}

/** Cumulative bucket counts by upper bound, summed over label sets; `+Inf` included. */
export interface Histogram {
  buckets: { le: number; count: number }[];
  count: number;
  sum: number;
}

export function histogram(samples: readonly Sample[], name: string): Histogram | undefined {
  const byLe = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== `${name}_bucket` || s.labels.le === undefined) continue;
    const le = numberOf(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  if (byLe.size === 0) return undefined;
  return {
    buckets: [...byLe].sort((a, b) => a[0] - b[0]).map(([le, count]) => ({ le, count })),
    count: total(samples, `${name}_count`) ?? 0,
    sum: total(samples, `${name}_sum`) ?? 0,
  };
}

/** What was observed between two scrapes of the same histogram (a restart resets it: then `now`). */
export function histogramDelta(before: Histogram | undefined, now: Histogram): Histogram {
  if (!before || now.count < before.count) return now;
  const prev = new Map(before.buckets.map((b) => [b.le, b.count]));
  return {
    buckets: now.buckets.map((b) => ({ le: b.le, count: b.count - (prev.get(b.le) ?? 0) })),
    count: now.count - before.count,
    sum: now.sum - before.sum,
  };
}

/**
 * Prometheus's histogram_quantile: linear interpolation inside the bucket that holds the rank,
 * the highest finite bound when the rank falls in +Inf. Undefined without observations.
 */
export function histogramQuantile(q: number, h: Histogram): number | undefined {
  const last = h.buckets[h.buckets.length - 1];
  if (!last || last.count <= 0) return undefined;
  const rank = q * last.count;
  let lowerBound = 0;
  let lowerCount = 0;
  for (const b of h.buckets) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerBound;
      if (b.count === lowerCount) return b.le;
      return lowerBound + ((b.le - lowerBound) * (rank - lowerCount)) / (b.count - lowerCount);
    }
    lowerBound = b.le;
    lowerCount = b.count;
  }
  return lowerBound;
}
