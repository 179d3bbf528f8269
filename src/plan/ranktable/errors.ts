/**
 * The one error of the ranktable phase. Its name is listed in NON_RETRYABLE_ERROR_TYPES: a missing
 * device IP or a clash between hosts is a cluster fact that a retry cannot change. All problems
 * are collected first so the operator fixes the inventory or the NICs in one round.
 */
export class RanktableError extends Error {
  override readonly name = 'RanktableError';

  constructor(readonly problems: readonly string[]) {
    super(
      problems.length === 1
        ? `ranktable: ${problems[0]}`
        : `ranktable: ${problems.length} problems:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
    );
  }
}

/** Quotes tool output for an error message, short enough to stay readable in a status table. */
export function quoteOutput(output: string): string {
  const limit = 200;
  const cut = output.length > limit ? `${output.slice(0, limit)}…` : output;
  return JSON.stringify(cut);
}
