import { spawn } from 'node:child_process';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** The whole environment (nothing inherited but PATH): see cleanEnvironment. */
  env?: Record<string, string>;
  input?: string;
  timeoutMs?: number;
}

/**
 * The environment a production process gets: PATH and the given variables only. The operator's
 * own TEMPORAL_* variables (TEMPORAL_ADDRESS, TEMPORAL_TLS_…: a client's settings) mean something
 * else to the server and the UI server, whose config templates read the same names.
 */
export function cleanEnvironment(vars: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', ...vars };
}

/**
 * Run a program to its exit and collect its output. Resolves on exit, not on the pipes closing:
 * `pg_ctl start` leaves the postmaster behind, which must not keep this waiting.
 */
export function exec(argv: string[], o: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: o.env ?? cleanEnvironment(),
      stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    if (o.input !== undefined) child.stdin!.end(o.input);
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            child.kill('SIGKILL');
            reject(new Error(`${argv[0]} did not finish within ${Math.round(o.timeoutMs! / 1000)} s`));
          }, o.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${argv[0]}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // Output already in the pipes is read before the next turn; daemons' later output is not waited for.
      setImmediate(() => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    });
  });
}

/** exec(), failing with the program's own words when it exits non-zero. */
export async function execOk(argv: string[], what: string, o: ExecOptions = {}): Promise<ExecResult> {
  const r = await exec(argv, o);
  if (r.code !== 0) {
    const said = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-8).join('\n');
    throw new Error(`${what} failed (exit ${r.code}): ${said}`);
  }
  return r;
}
