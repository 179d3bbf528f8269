/**
 * A small seeded pseudo-random generator and the two distributions the benchmark draws from
 * (uniform integers for lengths, gamma for arrival gaps). Seeded and pure, so `--seed` makes a
 * run's prompts and arrival times the same every time: not numpy's streams (no benchmark could
 * reproduce those bit for bit anyway), but the same distributions as `vllm bench serve`.
 */
export type Rng = () => number;

/** sfc32 seeded through splitmix32: uniform floats in [0, 1), period about 2^128. */
export function seededRng(seed: number, stream = 0): Rng {
  let s = (Math.trunc(seed) ^ Math.imul(stream + 1, 0x9e3779b9)) >>> 0;
  const splitmix = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  const next = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** An integer uniformly from low to high, both included (numpy's `integers(low, high + 1)`). */
export function uniformInt(rng: Rng, low: number, high: number): number {
  return low + Math.floor(rng() * (high - low + 1));
}

/** A standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  const u = 1 - rng(); // (0, 1]: the log stays finite
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/**
 * A gamma draw with this shape and scale (mean shape × scale), by Marsaglia and Tsang; shape 1 is
 * the exponential distribution of a Poisson process's gaps. A shape below 1 is drawn as
 * gamma(shape + 1) × U^(1/shape).
 */
export function gamma(rng: Rng, shape: number, scale: number): number {
  if (shape < 1) return gamma(rng, shape + 1, scale) * Math.pow(1 - rng(), 1 / shape);
  if (shape === 1) return -Math.log(1 - rng()) * scale;
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v * scale;
  }
}
