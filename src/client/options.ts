import { InvalidArgumentError } from 'commander';
import { durationMs } from '../shared/duration';

/**
 * Parsers for numeric flags: a flag's value is checked where it is typed, with a message that
 * names the flag's expectation, rather than passed on as `Number(...)` (NaN, 0 and 2.5 used to
 * reach the workflow). Commander prefixes the message with the option, e.g.
 * `error: option '--attempts <n>' argument 'x' is invalid. expected a whole number ≥ 1`.
 */
export function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value: string) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER
          ? `expected a whole number ≥ ${min}`
          : `expected a whole number from ${min} to ${max}`,
      );
    }
    return n;
  };
}

/** At least one: attempts, parallelism, counts. */
export const positiveInt = wholeNumber(1);

/** A TCP port. */
export const portNumber = wholeNumber(1, 65535);

/** A duration like 500ms, 10s, 15m; `0` or `off` is 0 (turned off). In milliseconds. */
export function durationOption(value: string): number {
  if (value === '0' || value === 'off') return 0;
  const ms = durationMs(value);
  if (ms === undefined) throw new InvalidArgumentError('expected a duration like 10s, 2m or 500ms (or off)');
  return ms;
}
