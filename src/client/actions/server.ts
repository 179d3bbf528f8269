import { Connection } from '../../temporal/clientSdk';
import {
  checkPorts,
  defaultDevServerOptions,
  devServerLogFile,
  recordedServerOptions,
  recordedServerPid,
  runDevServerForeground,
  startDevServerDetached,
  stopDevServer,
  uiUrl,
  waitForDevServer,
  type DevServerOptions,
} from '../../temporal/devServer';
import { ensureSearchAttributes } from '../../temporal/searchAttributeSetup';
import { resolveTemporalTarget } from '../../shared/temporalConnection';
import { productionServerStatus, startProductionServer, stopProductionServer } from './productionServer';

export interface ServerFlags {
  backend: 'dev' | 'postgres';
  ip: string;
  port: number;
  /** Default: the dev server's 8233, or the production topology's 8080. */
  uiPort?: number;
  dbFilename: string;
  /** postgres only. */
  uiIp?: string;
  dbPort: number;
  tls: boolean;
  detach?: boolean;
}

/**
 * The server `deploy server status` reports: what the flags name, else the address every other
 * command connects to (TEMPORAL_ADDRESS or the envconfig profile, see src/shared/temporalConnection),
 * with the Web UI port the recorded server was started with, or the dev server's port + 1000.
 */
export function statusTarget(flags: Partial<Pick<ServerFlags, 'ip' | 'port' | 'uiPort'>>) {
  const configured = resolveTemporalTarget().address;
  const colon = configured.lastIndexOf(':');
  const ip = flags.ip ?? configured.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = flags.port ?? Number(configured.slice(colon + 1));
  const recorded = recordedServerOptions();
  const uiPort =
    flags.uiPort ??
    (recorded && recorded.ip === ip && recorded.port === port ? recorded.uiPort : port + 1000);
  return { ip, port, uiPort };
}

function optionsFrom(flags: ServerFlags): DevServerOptions {
  const d = defaultDevServerOptions();
  return {
    ...d,
    ip: flags.ip,
    port: flags.port,
    uiPort: flags.uiPort ?? d.uiPort,
    dbFilename: flags.dbFilename,
  };
}

/**
 * Start the local Temporal dev server, or reuse one that already answers. Returns the options in
 * force so callers (the demo) can print addresses.
 */
export async function ensureDevServer(o: DevServerOptions, log = console.log): Promise<void> {
  const state = await checkPorts(o);
  if (state === 'temporal') {
    log(`a Temporal server already answers on ${o.ip}:${o.port}; reusing it`);
    await registerSearchAttributes(o);
    return;
  }
  log(`starting temporal server start-dev (db ${o.dbFilename}); log: ${devServerLogFile()}`);
  const pid = await startDevServerDetached(o);
  await registerSearchAttributes(o);
  log(`Temporal server running, pid ${pid}: gRPC ${o.ip}:${o.port}, Web UI ${uiUrl(o)}`);
}

/**
 * start-dev registers its --search-attribute list only when it creates the namespace: a database
 * kept from an older omni-deploy lacks the attributes added since (DeployHealth), and every
 * cluster workflow task would then fail with BadSearchAttributes, the deploy never moving.
 */
async function registerSearchAttributes(o: DevServerOptions): Promise<void> {
  const connection = await Connection.connect({ address: `${o.ip}:${o.port}` });
  try {
    await ensureSearchAttributes(connection, 'default');
  } finally {
    await connection.close();
  }
}

/** `deploy server start`: in the foreground until Ctrl-C, or detached; reuses a server that answers. */
export async function startServer(flags: ServerFlags): Promise<void> {
  if (flags.backend === 'postgres') return startProductionServer(flags);
  const o = optionsFrom(flags);
  if (flags.detach) {
    await ensureDevServer(o);
    return;
  }
  if ((await checkPorts(o)) === 'temporal') {
    console.log(`a Temporal server already answers on ${o.ip}:${o.port}; nothing to start`);
    return;
  }
  console.log(`gRPC ${o.ip}:${o.port}, Web UI ${uiUrl(o)}, db ${o.dbFilename} (Ctrl-C stops)`);
  const child = runDevServerForeground(o);
  // Alongside the foreground server: if it exits first, the exit below is what the operator sees.
  void waitForDevServer(o)
    .then(() => registerSearchAttributes(o))
    .catch((err: unknown) => {
      if (child.exitCode === null) console.error(`search attributes not registered: ${String(err)}`);
    });
  await new Promise<void>((resolve, reject) =>
    child.once('exit', (code, signal) =>
      code === 0 || signal ? resolve() : reject(new Error(`temporal exited with code ${code}`)),
    ),
  );
}

/** Stops the dev server and the production topology, whichever this checkout started. */
export async function stopServer(): Promise<void> {
  const pid = await stopDevServer();
  const stoppedProduction = await stopProductionServer();
  if (pid !== undefined) console.log(`stopped pid ${pid}`);
  else if (!stoppedProduction) console.log('no Temporal server started by omni-deploy is running');
}

/** `deploy server status`: exit code 3 when no Temporal server answers. */
export async function serverStatus(flags: Partial<ServerFlags>): Promise<number> {
  const recorded = await productionServerStatus();
  if (recorded !== undefined) return recorded;
  const o = { ...defaultDevServerOptions(), ...statusTarget(flags) };
  const state = await checkPorts(o).catch((e: Error) => e.message);
  const started = recordedServerOptions();
  const ours = started?.ip === o.ip && started.port === o.port ? recordedServerPid() : undefined;
  console.log(
    state === 'temporal'
      ? `running${ours ? ` (pid ${ours})` : ' (not started by this checkout)'}: gRPC ${o.ip}:${o.port}, Web UI ${uiUrl(o)}`
      : state === 'free'
        ? `not running: nothing answers on ${o.ip}:${o.port}`
        : state,
  );
  return state === 'temporal' ? 0 : 3;
}
