/**
 * Checks shared by the command builders. A builder never pastes a value into shell text: values
 * travel as argv words (`sh -c SCRIPT NAME ARGS…` reads them as "$1"…), so these only refuse what
 * a command would read as something else than a path.
 */

/** Host paths are absolute: a relative one would depend on the login folder, a `-x` be an option. */
export function absolutePath(path: string, what: string): string {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw new RangeError(`${what} must be an absolute path on the host, got ${JSON.stringify(path)}`);
  }
  return path;
}

export function absolutePaths(paths: readonly string[], what: string): string[] {
  return paths.map((p) => absolutePath(p, what));
}

/** Non-empty lines of a command's output, in order. */
export function outputLines(stdout: string): string[] {
  return stdout.split('\n').filter((line) => line !== '');
}

/** `3000` → `3`, `2500` → `2.5`: curl's `--max-time` takes fractional seconds. */
export function seconds(ms: number): string {
  if (!(ms > 0)) throw new RangeError(`a time bound must be positive, got ${ms} ms`);
  return String(ms / 1000);
}
