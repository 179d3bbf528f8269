import { spawn } from 'node:child_process';
import * as path from 'node:path';

export const DEPLOY_BIN = path.join(__dirname, '..', '..', 'bin', 'deploy');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Run `bin/deploy` exactly as an operator would, with extra environment (a value `undefined`
 * removes the variable); `checkout` runs another checkout's `bin/deploy` from inside it.
 */
export function runDeploy(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 120_000,
  checkout?: string,
): Promise<CliResult> {
  const merged = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  return new Promise((resolve, reject) => {
    const child = spawn(checkout ? path.join(checkout, 'bin', 'deploy') : DEPLOY_BIN, args, {
      env: merged,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(checkout ? { cwd: checkout } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`deploy ${args.join(' ')} timed out; stdout: ${stdout}; stderr: ${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
