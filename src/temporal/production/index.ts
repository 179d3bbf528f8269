import * as fs from 'node:fs';
import * as net from 'node:net';
import { ensureCertificates } from './certificates';
import { daemonPid, stopDaemon } from './daemon';
import { binaryPath, productionLayout, type ProductionLayout, type TemporalBinary } from './layout';
import {
  databasePassword,
  ensurePostgres,
  isInitialized,
  isReady,
  postgresPid,
  stopPostgres,
} from './postgres';
import { describeSchema, ensureSchema } from './schema';
import {
  frontendAddress,
  readSettings,
  sameSettings,
  uiUrl,
  writeClientProfile,
  writeSettings,
  type ProductionSettings,
} from './settings';
import { ensureNamespace, ensureTemporalServer, frontendAnswers, frontendConnection } from './temporalServer';
import { frontendPortProblem, serverPorts } from './topology';
import { ensureUiServer, UI_CLIENT } from './uiServer';

/*
 * The native production topology as one thing to start, stop and look at: PostgreSQL → schema →
 * temporal-server → namespace and search attributes → Web UI, each step an "ensure" (what runs
 * and fits is kept), so `start` after any crash or `kill` brings back exactly what is missing.
 */

export { productionLayout, type ProductionLayout } from './layout';
export {
  clientEnvironment,
  frontendAddress,
  readSettings,
  tlsClientEnvironment,
  uiUrl,
  type ProductionSettings,
} from './settings';
export { frontendConnection } from './temporalServer';

const BINARIES: TemporalBinary[] = ['temporal-server', 'temporal-sql-tool', 'temporal-ui-server'];

function assertBinaries(): void {
  const missing = BINARIES.filter((b) => !fs.existsSync(binaryPath(b)));
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(', ')} not found in ${binaryPath('temporal-server').replace(/[^/]+$/, '')}: build them with scripts/build-temporal.sh`,
    );
  }
}

async function portsInUse(ip: string, ports: number[]): Promise<number[]> {
  const busy: number[] = [];
  for (const port of ports) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, ip, () => server.close(() => resolve(true)));
    });
    if (!free) busy.push(port);
  }
  return busy;
}

async function assertFree(what: string, ip: string, ports: number[], flag: string): Promise<void> {
  const busy = await portsInUse(ip, ports);
  if (busy.length > 0) {
    throw new Error(`${what}: ${ip}:${busy.join(', ')} already in use; stop that program or pass ${flag}`);
  }
}

/** Something of the topology runs: its processes, by their records. */
async function anythingRuns(layout: ProductionLayout): Promise<boolean> {
  return (
    daemonPid(layout.server.pid) !== undefined ||
    daemonPid(layout.ui.pid) !== undefined ||
    (await postgresPid(layout)) !== undefined
  );
}

export async function startProduction(
  s: ProductionSettings,
  log: (line: string) => void = console.log,
  layout = productionLayout(),
): Promise<void> {
  assertBinaries();
  const portProblem = frontendPortProblem(s.port);
  if (portProblem) throw new Error(portProblem);
  const before = readSettings(layout);
  if (before && !sameSettings(before, s) && (await anythingRuns(layout))) {
    throw new Error(
      `the production Temporal of ${layout.root} runs with other settings (${JSON.stringify(before)}); ` +
        'stop it first (deploy server stop), then start it with the new ones — its data stays',
    );
  }
  writeSettings(layout, s);

  if (s.tls) {
    const certs = await ensureCertificates(layout.tls, { ips: [s.ip, s.uiIp], dns: [] }, [
      'client',
      UI_CLIENT,
    ]);
    log(`mTLS: ${certs.made.length ? `made ${certs.made.join(', ')}` : 'certificates kept'} (${layout.tls})`);
  }

  if ((await postgresPid(layout)) === undefined) {
    await assertFree('PostgreSQL', '127.0.0.1', [s.dbPort], '--db-port');
  }
  const pg = await ensurePostgres(layout, s.dbPort);
  log(
    `PostgreSQL ${pg.created ? 'created and ' : ''}${pg.started ? 'started' : 'running'}, pid ${pg.pid}, ` +
      `127.0.0.1:${s.dbPort}, data ${layout.postgres.data}`,
  );

  const password = databasePassword(layout);
  for (const r of await ensureSchema({ host: '127.0.0.1', port: s.dbPort, password }))
    log(`schema ${describeSchema(r)}`);

  if (daemonPid(layout.server.pid) === undefined) {
    await assertFree('temporal-server', s.ip, serverPorts(s.port), '--port');
  }
  const server = await ensureTemporalServer(layout, s, password);
  log(
    `temporal-server ${server.started ? 'started' : 'running'}, pid ${server.pid}: gRPC ${frontendAddress(s)}${s.tls ? ' (mTLS)' : ''}; log ${layout.server.log}`,
  );

  const ns = await ensureNamespace(frontendConnection(layout, s));
  log(`namespace default ${ns.created ? 'created' : 'present'}, search attributes registered`);

  if (daemonPid(layout.ui.pid) === undefined) await assertFree('Web UI', s.uiIp, [s.uiPort], '--ui-port');
  const ui = await ensureUiServer(layout, s);
  log(`Web UI ${ui.started ? 'started' : 'running'}, pid ${ui.pid}: ${uiUrl(s)}`);

  writeClientProfile(layout, s);
  log(`clients: export TEMPORAL_CONFIG_FILE=${layout.clientProfile}`);
}

export interface StopReport {
  ui?: number;
  server?: number;
  postgres?: number;
}

/** Stop the UI, the server, then PostgreSQL (by their records); the data and certificates stay. */
export async function stopProduction(layout = productionLayout()): Promise<StopReport> {
  const ui = await stopDaemon(layout.ui.pid);
  const server = await stopDaemon(layout.server.pid, 60_000);
  const postgres = isInitialized(layout) ? await stopPostgres(layout) : undefined;
  return { ui, server, postgres };
}

export interface ProductionStatus {
  settings: ProductionSettings;
  postgres: { pid?: number; ready: boolean };
  server: { pid?: number; answers: boolean };
  ui: { pid?: number };
}

/** undefined when this state folder never had a production topology. */
export async function productionStatus(layout = productionLayout()): Promise<ProductionStatus | undefined> {
  const settings = readSettings(layout);
  if (!settings) return undefined;
  const pgPid = await postgresPid(layout);
  const serverPid = daemonPid(layout.server.pid);
  return {
    settings,
    postgres: { pid: pgPid, ready: pgPid !== undefined && (await isReady(settings.dbPort)) },
    server: {
      pid: serverPid,
      answers: serverPid !== undefined && (await frontendAnswers(frontendConnection(layout, settings))),
    },
    ui: { pid: daemonPid(layout.ui.pid) },
  };
}
