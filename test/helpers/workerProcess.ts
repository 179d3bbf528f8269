import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
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
 * of the executor machine and start another one; with `checkout`, that checkout's `bin/deploy`
 * run from inside it (another build, as the upgrade test needs).
 */
export async function startWorkerProcess(
  address: string,
  args: string[] = [],
  opts: { checkout?: string; startTimeoutMs?: number } = {},
): Promise<WorkerProcess> {
  const bin = opts.checkout ? path.join(opts.checkout, 'bin', 'deploy') : DEPLOY_BIN;
  const child = spawn(bin, ['worker', ...args], {
    env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.checkout && { cwd: opts.checkout }),
  });
  const which = opts.checkout ? ` of ${opts.checkout}` : '';
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`worker${which} did not start: ${out}`)),
      opts.startTimeoutMs ?? 60_000,
    );
    const check = () => {
      if (out.includes('worker connected')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    void exited.then(() => reject(new Error(`worker${which} exited early: ${out}`)));
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
