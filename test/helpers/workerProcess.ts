import { spawn, type ChildProcess } from 'node:child_process';
import { DEPLOY_BIN } from './cli';

export interface WorkerProcess {
  child: ChildProcess;
  output: () => string;
  /** SIGKILL: the crash a resume test needs (no graceful shutdown, no activity completion). */
  kill: () => Promise<void>;
  /** SIGTERM: graceful shutdown. */
  stop: () => Promise<number | null>;
}

/**
 * `deploy worker` as its own process against a test server, so a test can kill it like a crash
 * of the executor machine and start another one.
 */
export async function startWorkerProcess(address: string, args: string[] = []): Promise<WorkerProcess> {
  const child = spawn(DEPLOY_BIN, ['worker', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${out}`)), 60_000);
    const check = () => {
      if (out.includes('worker connected')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`worker exited early: ${out}`)));
  });
  return {
    child,
    output: () => out,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
