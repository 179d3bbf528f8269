import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Background processes this tool started (the dev server, the demo's worker) are remembered by a
 * pid file and stopped by that PID only — never by name.
 */

/** Alive and not a zombie (a zombie still answers kill(0) until it is reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${pid}\n`);
}

/** The recorded PID when that process still runs. */
export function livePid(file: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(file, 'utf8').trim());
    return pid > 0 && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGTERM the recorded process, wait up to `timeoutMs` for it to go, forget the pid file. */
export async function stopRecorded(file: string, timeoutMs: number): Promise<number | undefined> {
  const pid = livePid(file);
  if (pid === undefined) return undefined;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && isAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(file, { force: true });
  return pid;
}
