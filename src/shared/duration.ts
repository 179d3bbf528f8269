const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `90s`, `15m`, `2h` (and `500ms`, `1d`) as milliseconds; a number is already milliseconds.
 * Undefined for anything else. Pure: the Plan, the workflow and the CLI read durations alike.
 */
export function durationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(value.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS] : undefined;
}
