import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Processes this tool started in the background (the dev server, the background worker, the
 * simulated hosts' init processes) are remembered by a pid file and stopped by that record only —
 * never by name. A PID alone is not an identity: once the process exits (a crash, a reboot of the
 * machine) the kernel hands the number to someone else. So the file records the process's start
 * time too, and a live process with another start time is a stranger that must not be signalled.
 *
 * File format: `{"pid":123,"start":"4567"}` (JSON, so that `kill $(cat file)` fails instead of
 * signalling a number that is no PID). A file holding only a PID was written by an older version:
 * it cannot prove whose process it names, so it is treated as "not ours".
 */
export interface PidRecord {
  pid: number;
  /** Field 22 of /proc/<pid>/stat (clock ticks after boot); null when the file does not say. */
  start: string | null;
}

interface ProcStat {
  state: string;
  start: string;
}

function procStat(pid: number): ProcStat | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may itself hold ") ", so count from the last.
    const fields = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', start: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

const running = (st: ProcStat | undefined): st is ProcStat =>
  st !== undefined && st.state !== 'Z' && st.state !== 'X';

/** Alive and not a zombie (a zombie still has its /proc entry and answers kill(0) until reaped). */
export function isAlive(pid: number): boolean {
  return running(procStat(pid));
}

/** The record of a process as it runs now (start '' if it is already gone: matches nothing). */
export function pidRecordOf(pid: number): PidRecord {
  return { pid, start: procStat(pid)?.start ?? '' };
}

/** The recorded process itself is still running: alive, not a zombie, and the same start time. */
export function isRunning(rec: PidRecord | undefined): rec is PidRecord {
  if (rec === undefined || rec.start === null) return false;
  const st = procStat(rec.pid);
  return running(st) && st.start === rec.start;
}

export function writePidFile(file: string, pid: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(pidRecordOf(pid))}\n`);
}

export function readPidFile(file: string): PidRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof value === 'number') return value > 0 ? { pid: value, start: null } : undefined;
  const r = value as Partial<PidRecord> | null;
  return typeof r?.pid === 'number' && r.pid > 0 && typeof r.start === 'string'
    ? { pid: r.pid, start: r.start }
    : undefined;
}

/** The recorded PID while that very process runs. */
export function livePid(file: string): number | undefined {
  const rec = readPidFile(file);
  return isRunning(rec) ? rec.pid : undefined;
}

/** Sends `sig` only if the recorded process still runs; says whether it was sent. */
export function signalRecorded(rec: PidRecord, sig: NodeJS.Signals): boolean {
  if (!isRunning(rec)) return false;
  try {
    process.kill(rec.pid, sig);
    return true;
  } catch {
    return false; // gone meanwhile
  }
}

/** Waits up to `ms` for the recorded process to be gone; says whether it is. */
export async function waitGone(rec: PidRecord, ms: number, pollMs = 25): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (!isRunning(rec)) return true;
    await new Promise((r) => setTimeout(r, pollMs));
  }
  return !isRunning(rec);
}

/**
 * SIGTERM the recorded process, wait up to `timeoutMs` for it to go, forget the pid file. Refuses
 * (throws) on a file of an older version that names a live process: it may be ours or a stranger.
 */
export async function stopRecorded(file: string, timeoutMs: number): Promise<number | undefined> {
  const rec = readPidFile(file);
  if (rec?.start === null && isAlive(rec.pid)) {
    throw new Error(
      `${file} names pid ${rec.pid} without its start time (written by an older omni-deploy), so it cannot ` +
        `tell that process from another that got the same PID later; not signalling it. If pid ${rec.pid} ` +
        `is the process this file is about, stop it yourself (kill ${rec.pid}) and remove ${file}.`,
    );
  }
  if (rec === undefined || !signalRecorded(rec, 'SIGTERM')) return undefined;
  await waitGone(rec, timeoutMs, 100);
  fs.rmSync(file, { force: true });
  return rec.pid;
}
