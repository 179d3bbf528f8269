import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, stateDir } from '../shared/paths';
import { isAlive, livePid, stopRecorded, writePidFile } from '../shared/pidFile';

const pidFile = () => path.join(stateDir(), 'worker', 'worker.pid');
export const workerLogFile = () => path.join(stateDir(), 'worker', 'worker.log');

export function backgroundWorkerPid(): number | undefined {
  return livePid(pidFile());
}

/**
 * `deploy worker` in the background, for the demo and for operators without a service manager:
 * reused while its recorded PID lives; returns once it is connected and polling.
 */
export async function ensureBackgroundWorker(
  args: string[] = [],
): Promise<{ pid: number; started: boolean }> {
  const running = backgroundWorkerPid();
  if (running !== undefined) return { pid: running, started: false };
  fs.mkdirSync(path.dirname(pidFile()), { recursive: true });
  const log = workerLogFile();
  const before = fs.existsSync(log) ? fs.statSync(log).size : 0;
  const out = fs.openSync(log, 'a');
  const child = spawn(path.join(PROJECT_ROOT, 'bin', 'deploy'), ['worker', ...args], {
    detached: true,
    stdio: ['ignore', out, out],
  });
  fs.closeSync(out);
  if (child.pid === undefined) throw new Error('could not start a worker');
  writePidFile(pidFile(), child.pid);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const text = fs.readFileSync(log, 'utf8').slice(before);
    if (text.includes('worker connected')) {
      child.unref();
      return { pid: child.pid, started: true };
    }
    if (!isAlive(child.pid)) throw new Error(`the worker exited; see ${log}:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the worker did not connect within 60 s; see ${log}`);
}

/** Stop the background worker by its recorded PID (graceful: SIGTERM). */
export function stopBackgroundWorker(): Promise<number | undefined> {
  return stopRecorded(pidFile(), 15_000);
}
