/**
 * The one POSIX shell quoting helper. Every command that reaches a remote shell (or a script we
 * generate) is built from argv through these two functions, so an inventory string can never be
 * read by a shell as anything but one literal word.
 */

// Words made only of these characters mean the same quoted or not, so they stay readable in logs.
// `=` is left out on purpose: as the first word `A=b` would be an assignment, not a command.
const SAFE_WORD = /^[A-Za-z0-9_./,:@%+-]+$/;

/** Quotes one argument for a POSIX shell (single quotes; `'` becomes `'\''`). */
export function shellQuote(arg: string): string {
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Quotes each argument and joins them with spaces: the shell sees exactly `argv` again. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
