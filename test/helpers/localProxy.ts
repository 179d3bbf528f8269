import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nginxCommands, renderProxyConfig, type ProxyConfigSpec } from '../../src/plan/proxy';
import type { ProxyBalance } from '../../src/shared/proxyBalance';
import { freePort } from './ports';
import { waitFor } from './waitFor';

export interface LocalProxy {
  /** `http://127.0.0.1:PORT` */
  base: string;
  stop: () => Promise<void>;
}

/**
 * The default global proxy (the same renderProxyConfig the cluster's proxy runs) as a child nginx
 * on loopback, in front of chosen engines of a simulated cluster: a benchmark or test compares
 * balancing policies, or one prefill instance against two, on the same engines in one run
 * without redeploying.
 */
export async function startLocalProxy(o: {
  prefill: string[];
  decode: string[];
  balance: ProxyBalance;
  workerProcesses?: number;
}): Promise<LocalProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-local-proxy-'));
  for (const d of ['logs', 'run']) fs.mkdirSync(path.join(dir, d));
  const port = await freePort();
  const spec: ProxyConfigSpec = {
    listenPort: port,
    listenAddress: '127.0.0.1',
    prefill: o.prefill,
    decode: o.decode,
    balance: { prefill: o.balance, decode: o.balance },
    logDir: path.join(dir, 'logs'),
    runDir: path.join(dir, 'run'),
    njsPath: path.join(dir, 'pd.js'),
    foreground: true,
    workerProcesses: o.workerProcesses ?? 2,
  };
  const { nginxConf, njs } = renderProxyConfig(spec);
  const confPath = path.join(dir, 'nginx.conf');
  fs.writeFileSync(confPath, nginxConf);
  fs.writeFileSync(spec.njsPath, njs);
  const cmds = nginxCommands({ binary: '/usr/sbin/nginx', confPath, prefixDir: dir });
  const t = spawnSync(cmds.test[0]!, cmds.test.slice(1), { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t: ${t.stderr}`);
  const nginx = spawn(cmds.start[0]!, cmds.start.slice(1), { stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (nginx.exitCode === null && nginx.pid !== undefined) {
      const exited = new Promise((r) => nginx.once('exit', r));
      process.kill(nginx.pid, 'SIGQUIT');
      await exited;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      async () => {
        if (nginx.exitCode !== null) throw new Error(`nginx exited ${nginx.exitCode}`);
        return fetch(`${base}/health`).then(
          (r) => r.status === 200,
          () => false,
        );
      },
      { timeout: 10_000, interval: 50, what: 'the local proxy to serve /health' },
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, stop };
}
