import { InvalidArgumentError } from 'commander';

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
