/**
 * The tests' one polling helper: instead of sleeping a fixed time, a test polls for the
 * condition it waits for, and fails with what it waited for when the condition never comes.
 */
export interface WaitForOptions {
  /** Give up after this many ms (default 60 000). */
  timeout?: number;
  /** Between two polls, in ms (default 200). */
  interval?: number;
  /**
   * The interval grows by half each poll up to this (default: it stays): a wait that ends at once
   * is still seen at once, a long one polls less often — for conditions that cost to ask (a
   * workflow query costs ~16 ms of CPU over client, server and worker on this machine).
   */
  maxInterval?: number;
  /** Names the wait in the error: "waited 5000 ms for <what> in vain". */
  what?: string;
  /** More for the error: e.g. the last state seen. */
  detail?: () => string;
}

/**
 * Calls `condition` until it returns something other than `undefined`, `false` or `null`, and
 * returns that; polls once more after the deadline before failing. An error the condition throws
 * ends the wait (catch in the condition what is expected while waiting).
 */
export async function waitFor<T>(
  condition: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitForOptions = {},
): Promise<T> {
  const timeout = opts.timeout ?? 60_000;
  let interval = opts.interval ?? 200;
  const deadline = Date.now() + timeout;
  for (;;) {
    const late = Date.now() > deadline;
    const value = await condition();
    if (value !== undefined && value !== null && value !== false) return value;
    if (late) {
      const detail = opts.detail ? `; ${opts.detail()}` : '';
      throw new Error(`waited ${timeout} ms for ${opts.what ?? 'a condition'} in vain${detail}`);
    }
    await new Promise((r) => setTimeout(r, interval));
    if (opts.maxInterval !== undefined) interval = Math.min(opts.maxInterval, Math.max(interval, 10) * 1.5);
  }
}
