import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { livePid, stopRecorded, writePidFile } from '../../shared/pidFile';

/*
 * The long-running processes of the production topology (temporal-server, the UI server): started
 * in their own session so they outlive the command that started them, their output appended to a
 * log file, remembered by a pid file with the process's start time and stopped by that record only.
 */

export interface Daemon {
  pid: number;
  /** Rejects when the process exits, naming its log. */
  exited: Promise<never>;
  /** Stop watching it, so this process may exit while the daemon runs on. */
  release(): void;
}

export function startDaemon(
  argv: string[],
  o: { env: Record<string, string>; log: string; pidFile: string; cwd?: string },
): Daemon {
  fs.mkdirSync(path.dirname(o.log), { recursive: true });
  const out = fs.openSync(o.log, 'a');
  const child = spawn(argv[0]!, argv.slice(1), {
    env: o.env,
    cwd: o.cwd,
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error(`could not start ${argv[0]}`);
  writePidFile(o.pidFile, child.pid);
  const name = path.basename(argv[0]!);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) =>
      reject(new Error(`${name} exited (${signal ?? `code ${code}`}); see ${o.log}`)),
    ),
  );
  exited.catch(() => undefined);
  return { pid: child.pid, exited, release: () => child.unref() };
}

export const daemonPid = (pidFile: string) => livePid(pidFile);

/** SIGTERM by the record, wait for the exit (the server drains its shards: give it time). */
export const stopDaemon = (pidFile: string, timeoutMs = 30_000) => stopRecorded(pidFile, timeoutMs);

/** The last lines of a log, to say why something did not come up. */
export function logTail(file: string, lines = 15): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

export async function waitFor(
  what: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
  abort?: Promise<never>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const loop = (async () => {
    while (Date.now() < deadline) {
      if (await probe()) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
  })();
  await (abort ? Promise.race([loop, abort]) : loop);
}
