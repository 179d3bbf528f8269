import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT, stateDir } from '../shared/paths';

const pidFile = () => path.join(stateDir(), 'worker', 'worker.pid');
export const workerLogFile = () => path.join(stateDir(), 'worker', 'worker.log');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

export function backgroundWorkerPid(): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile(), 'utf8').trim());
    return alive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
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
  fs.writeFileSync(pidFile(), `${child.pid}\n`);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const text = fs.readFileSync(log, 'utf8').slice(before);
    if (text.includes('worker connected')) {
      child.unref();
      return { pid: child.pid, started: true };
    }
    if (!alive(child.pid)) throw new Error(`the worker exited; see ${log}:\n${text.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the worker did not connect within 60 s; see ${log}`);
}

/** Stop the background worker by its recorded PID (graceful: SIGTERM). */
export async function stopBackgroundWorker(): Promise<number | undefined> {
  const pid = backgroundWorkerPid();
  if (pid === undefined) return undefined;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 150 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  fs.rmSync(pidFile(), { force: true });
  return pid;
}
