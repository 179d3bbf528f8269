import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ConnectionOptions } from '@temporalio/client';
import {
  frontendConnection,
  productionLayout,
  stopProduction,
  type ProductionLayout,
} from '../../src/temporal/production';
import { readSettings } from '../../src/temporal/production/settings';
import { MAX_SERVER_PORT, serverPorts } from '../../src/temporal/production/topology';
import { runDeploy, type CliResult } from './cli';
import { freePort } from './ports';

/**
 * The native production Temporal (`deploy server start --backend postgres`) for one test file: its
 * own state folder (PostgreSQL data, certificates, logs), its own ports, stopped and removed after.
 */

async function isFree(ip: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, ip, () => s.close(() => resolve(true)));
  });
}

/** A frontend port whose whole block (history, matching, worker, membership ports) is free on `ip`. */
export async function freeFrontendPort(ip = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    // Below MAX_SERVER_PORT: the SQL schema keeps membership ports in a SMALLINT.
    const base = 20_000 + Math.floor(Math.random() * (MAX_SERVER_PORT - 20_010));
    const ports = serverPorts(base);
    let all = true;
    for (const p of ports) if (!(await isFree(ip, p))) all = false;
    if (all) return base;
  }
  throw new Error(`no free block of Temporal server ports on ${ip}`);
}

export interface ProductionTemporal {
  stateDir: string;
  layout: ProductionLayout;
  /** Environment for `bin/deploy` commands that manage this server (its state folder). */
  env: NodeJS.ProcessEnv;
  /** Environment of a client on this machine: the server's envconfig profile. */
  clientEnv: NodeJS.ProcessEnv;
  port: number;
  uiPort: number;
  dbPort: number;
  start: (extra?: string[]) => Promise<CliResult>;
  /** The Temporal SDK's connection options, with this machine's client certificate. */
  connection: () => ConnectionOptions;
  stop: () => Promise<CliResult>;
  /** Stop everything and remove the state folder (PostgreSQL's data too). */
  remove: () => Promise<void>;
}

export async function productionTemporal(
  opts: { ip?: string; uiIp?: string } = {},
): Promise<ProductionTemporal> {
  const ip = opts.ip ?? '127.0.0.1';
  // PostgreSQL runs as the unprivileged `postgres` user, which must pass through this folder.
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-prod-temporal-'));
  fs.chmodSync(stateDir, 0o755);
  const layout = productionLayout(path.join(stateDir, 'temporal-production'));
  const port = await freeFrontendPort(ip);
  const uiPort = await freePort(opts.uiIp ?? ip);
  const dbPort = await freePort();
  const env = {
    OMNI_DEPLOY_STATE_DIR: stateDir,
    TEMPORAL_ADDRESS: undefined,
    TEMPORAL_CONFIG_FILE: undefined,
  };
  const flags = [
    '--backend',
    'postgres',
    '--ip',
    ip,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--db-port',
    String(dbPort),
    ...(opts.uiIp ? ['--ui-ip', opts.uiIp] : []),
  ];
  const stop = () => runDeploy(['server', 'stop'], env, 120_000);
  return {
    stateDir,
    layout,
    env,
    clientEnv: {
      TEMPORAL_CONFIG_FILE: layout.clientProfile,
      TEMPORAL_ADDRESS: undefined,
      TEMPORAL_PROFILE: undefined,
    },
    port,
    uiPort,
    dbPort,
    start: (extra = []) => runDeploy(['server', 'start', ...flags, ...extra], env, 600_000),
    connection: () => frontendConnection(layout, readSettings(layout)!),
    stop,
    remove: async () => {
      const r = await stop();
      // The CLI may fail (a broken build, a killed process): stop by the records in-process too,
      // before the records go with the folder, so nothing is left running.
      if (r.code !== 0) console.log(`deploy server stop failed (${r.code}): ${r.stdout}${r.stderr}`);
      await stopProduction(layout);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
}
