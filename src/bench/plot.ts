import type { RequestOutcome } from './metrics';

export type PlotFormat = 'svg' | 'png';

/** The picture's format from the file name; anything but .svg or .png is refused before a run. */
export function plotFormat(file: string): PlotFormat {
  const ext = /\.(svg|png)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext !== 'svg' && ext !== 'png')
    throw new Error(`--plot ${file}: the file name must end in .svg or .png`);
  return ext;
}

/** Requests drawn in the scatter at most, spread evenly over the run; points of each CDF at most. */
const MAX_SCATTER = 3000;
const CDF_POINTS = 400;

function spread<T>(items: readonly T[], most: number): T[] {
  if (items.length <= most) return [...items];
  return Array.from({ length: most }, (_, i) => items[Math.round((i * (items.length - 1)) / (most - 1))]!);
}

/** The empirical CDF of `values` at no more than CDF_POINTS steps: [value, fraction ≤ value]. */
export function cdfPoints(values: readonly number[]): [number, number][] {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const ranks = spread(
    Array.from({ length: n }, (_, i) => i),
    CDF_POINTS,
  );
  return ranks.map((i) => [sorted[i]!, (i + 1) / n]);
}

export const TIME_AXIS = 'request start (s)';
export const LATENCY_AXIS = 'latency (ms)';
export const FRACTION_AXIS = 'fraction of requests';

/**
 * A Vega-Lite spec of the run's successful requests: TTFT and end-to-end latency of each request
 * against when it started (a queue shows as a rising cloud), and both latencies' distributions as
 * CDFs (percentiles read off the fraction axis). Pure data → spec; rendering is `renderPlot`.
 */
export function plotSpec(requests: readonly RequestOutcome[], title: string): Record<string, unknown> {
  const ok = requests.filter((r) => r.ok);
  const metrics: [string, (r: RequestOutcome) => number][] = [
    ['TTFT', (r) => r.ttftMs],
    ['E2EL', (r) => r.latencyMs],
  ];
  const overTime = spread(ok, MAX_SCATTER).flatMap((r) =>
    metrics.map(([metric, value]) => ({ start_s: r.startMs / 1000, latency_ms: value(r), metric })),
  );
  const cdf = metrics.flatMap(([metric, value]) =>
    cdfPoints(ok.map(value)).map(([latency_ms, fraction]) => ({ latency_ms, fraction, metric })),
  );
  const color = {
    field: 'metric',
    type: 'nominal',
    title: null,
    scale: { domain: ['TTFT', 'E2EL'], range: ['#1f77b4', '#ff7f0e'] },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, anchor: 'start' },
    background: 'white',
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', view: { stroke: null } },
    hconcat: [
      {
        title: 'Latency over time',
        width: 520,
        height: 300,
        data: { values: overTime },
        mark: { type: 'point', filled: true, size: 14, opacity: 0.6 },
        encoding: {
          x: { field: 'start_s', type: 'quantitative', title: TIME_AXIS },
          y: { field: 'latency_ms', type: 'quantitative', title: LATENCY_AXIS },
          color,
        },
      },
      {
        title: 'Latency distribution (CDF)',
        width: 420,
        height: 300,
        data: { values: cdf },
        mark: { type: 'line', interpolate: 'step-after' },
        encoding: {
          x: { field: 'latency_ms', type: 'quantitative', title: LATENCY_AXIS },
          y: { field: 'fraction', type: 'quantitative', title: FRACTION_AXIS, scale: { domain: [0, 1] } },
          color,
        },
      },
    ],
  };
}

/**
 * Render a Vega-Lite spec headless: compiled by vega-lite, drawn to SVG by vega's scenegraph; PNG
 * is that SVG rasterised by resvg (a prebuilt binary from npm, no canvas or Cairo build). All
 * three load here, only when a plot is asked for.
 */
export async function renderPlot(spec: Record<string, unknown>, format: PlotFormat): Promise<Buffer> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vegaLite.compile(spec as unknown as Parameters<typeof vegaLite.compile>[0]).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    if (format === 'svg') return Buffer.from(svg);
    const { Resvg } = await import('@resvg/resvg-js');
    const png = new Resvg(svg, {
      background: 'white',
      fitTo: { mode: 'zoom', value: 2 },
      font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' },
    });
    return png.render().asPng();
  } finally {
    view.finalize();
  }
}
