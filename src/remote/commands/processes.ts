import { absolutePath, outputLines } from './argv';

/**
 * Processes by PID, inside the PID namespace where the command runs (an engine's PIDs are the
 * container's, so these run through `docker exec`).
 */

/** Prints each of `pids` that is not alive, one per line. */
export function deadPids(pids: readonly number[]): string[] {
  for (const pid of pids) {
    if (!Number.isSafeInteger(pid) || pid < 1) throw new RangeError(`not a process id: ${pid}`);
  }
  return [
    'sh',
    '-c',
    'for p; do kill -0 "$p" 2>/dev/null || echo "$p"; done',
    'dead-pids',
    ...pids.map(String),
  ];
}

/** What deadPids answered: the dead ones — all of them when the container itself is gone. */
export function parseDeadPids(
  result: { code: number | null; stdout: string; stderr: string },
  pids: readonly number[],
): number[] {
  if (result.code !== 0 && /no such container|is not running/i.test(result.stderr)) return [...pids];
  return outputLines(result.stdout)
    .map(Number)
    .filter((pid) => pids.includes(pid));
}

/** Exit 0 when the pid file exists and names a live process (nginx's master, e.g.). */
export function pidFileAlive(pidFile: string): string[] {
  return [
    'sh',
    '-c',
    '[ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null',
    'pid-file-alive',
    absolutePath(pidFile, 'the pid file'),
  ];
}

/**
 * The children of the process a pid file names (nginx's workers under its master), one per
 * line, from /proc (no pgrep needed in the image).
 */
export function childPids(pidFile: string): string[] {
  return [
    'sh',
    '-c',
    'p=$(cat "$1" 2>/dev/null) || exit 0; for t in /proc/"$p"/task/*/children; do cat "$t" 2>/dev/null; done | tr " " "\\n"',
    'child-pids',
    absolutePath(pidFile, 'the pid file'),
  ];
}

export function parsePids(stdout: string): number[] {
  return outputLines(stdout)
    .map(Number)
    .filter((n) => Number.isSafeInteger(n) && n > 0);
}
