import { gamma, seededRng, type Rng } from './random';

/**
 * When requests arrive, as `vllm bench serve` schedules them (get_request): at a request rate of
 * `inf` all at once; otherwise gaps drawn from a gamma distribution with shape = burstiness and
 * mean 1/rate — burstiness 1 is a Poisson process, below 1 burstier, above 1 more regular, and
 * `inf` a constant gap of 1/rate.
 */
export interface ArrivalProcess {
  /** Requests per second, or Infinity. */
  rate: number;
  /** Gamma shape, > 0 (Infinity: evenly spaced). */
  burstiness: number;
}

/** One gap between two arrivals, in seconds. */
export function arrivalGap(rng: Rng, p: ArrivalProcess): number {
  if (p.rate === Infinity) return 0;
  if (p.burstiness === Infinity) return 1 / p.rate;
  return gamma(rng, p.burstiness, 1 / (p.rate * p.burstiness));
}

/** The arrival process's own stream of the seed, apart from the dataset's. */
export const ARRIVAL_STREAM = 1;

/**
 * The arrival times of `n` requests, ms after the start: cumulative gaps (the first one included,
 * as vLLM does), then rescaled so that the last arrival is at exactly n/rate — vLLM's
 * normalisation, which keeps throughput from drifting 1–2 % between seeds.
 */
export function arrivalSchedule(n: number, p: ArrivalProcess, seed: number): number[] {
  const rng = seededRng(seed, ARRIVAL_STREAM);
  const times: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) times.push((t += arrivalGap(rng, p)));
  const last = times.at(-1) ?? 0;
  if (p.rate === Infinity || last === 0) return times.map(() => 0);
  const factor = n / p.rate / last;
  return times.map((s) => s * factor * 1000);
}

/**
 * Arrival times without end, ms after the start, for a run bounded by time (`--duration`): the same
 * gaps, not rescaled (there is no last request to rescale to).
 */
export function* openArrivals(p: ArrivalProcess, seed: number): Generator<number, never> {
  const rng = seededRng(seed, ARRIVAL_STREAM);
  let t = 0;
  for (;;) yield (t += arrivalGap(rng, p)) * 1000;
}
