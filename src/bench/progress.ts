import type { BenchProgress } from './options';

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/**
 * One line of progress, as tqdm shows vLLM's: a bar over the requests (or over the time, for a
 * run bounded by `--duration`), what finished, what failed, and the time so far.
 */
export function progressLine(p: BenchProgress, width = 30): string {
  const fraction = p.durationMs !== undefined ? p.elapsedMs / p.durationMs : p.done / p.total;
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  const bar = `[${'█'.repeat(filled)}${'░'.repeat(width - filled)}]`;
  const failed = p.failed > 0 ? ` · ${p.failed} failed` : '';
  const inFlight = p.sent - p.done;
  return p.durationMs !== undefined
    ? `${bar} ${seconds(Math.min(p.elapsedMs, p.durationMs))}/${seconds(p.durationMs)} s · ${p.done} requests done · ${inFlight} in flight${failed}`
    : `${bar} ${p.done}/${p.total} requests · ${inFlight} in flight${failed} · ${seconds(p.elapsedMs)} s`;
}
