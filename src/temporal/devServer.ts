import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from './clientSdk';
import { stateDir } from '../shared/paths';
import { livePid, stopRecorded, writePidFile } from '../shared/pidFile';
import { searchAttributeFlags } from '../shared/searchAttributes';
import { uiUrl, type DevServerOptions } from './devServerOptions';

export { defaultDevServerOptions, uiUrl, type DevServerOptions } from './devServerOptions';

export function devServerArgs(o: DevServerOptions): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    o.ip,
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
    '--db-filename',
    o.dbFilename,
    '--log-level',
    'warn',
    ...searchAttributeFlags(),
  ];
}

/** What is at an address: nothing, a Temporal frontend, or some other program. */
export type PortOccupant = 'free' | 'temporal' | 'other';

export async function probeAddress(host: string, port: number): Promise<PortOccupant> {
  const open = await new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
  if (!open) return 'free';
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address: `${host}:${port}`, connectTimeout: 2000 });
    const c = connection;
    await c.withDeadline(Date.now() + 2000, () => c.workflowService.getSystemInfo({}));
    return 'temporal';
  } catch {
    return 'other';
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

async function waitUntil(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
}

export async function waitForDevServer(o: DevServerOptions, timeoutMs = 60_000): Promise<void> {
  await waitUntil(`Temporal frontend on ${o.ip}:${o.port}`, timeoutMs, async () => {
    return (await probeAddress(o.ip, o.port)) === 'temporal';
  });
  await waitUntil(`Temporal Web UI on ${uiUrl(o)}`, timeoutMs, async () => {
    try {
      return (await fetch(uiUrl(o))).ok;
    } catch {
      return false;
    }
  });
}

export class DevServerError extends Error {}

function assertCli(o: DevServerOptions): void {
  if (!fs.existsSync(o.cliPath)) {
    throw new DevServerError(
      `Temporal CLI not found at ${o.cliPath}. Build it with scripts/build-temporal.sh (or set TEMPORAL_CLI_PATH).`,
    );
  }
}

/** Refuse a port held by something else; report a Temporal that already answers. */
export async function checkPorts(o: DevServerOptions): Promise<'free' | 'temporal'> {
  const occupant = await probeAddress(o.ip, o.port);
  if (occupant === 'other') {
    throw new DevServerError(
      `port ${o.ip}:${o.port} is taken by a program that is not a Temporal server; stop it or pass --port`,
    );
  }
  if (occupant === 'free' && (await probeAddress(o.ip, o.uiPort)) !== 'free') {
    throw new DevServerError(`Web UI port ${o.ip}:${o.uiPort} is taken; stop that program or pass --ui-port`);
  }
  return occupant;
}

const pidFile = () => path.join(stateDir(), 'temporal', 'server.pid');
/** The addresses the recorded server was started with, so `deploy server status` can name them. */
const optionsFile = () => path.join(stateDir(), 'temporal', 'server.json');
const logFile = () => path.join(stateDir(), 'temporal', 'server.log');

/** Start in the foreground: the server lives as long as this process (Ctrl-C stops both). */
export function runDevServerForeground(o: DevServerOptions): ChildProcess {
  assertCli(o);
  fs.mkdirSync(path.dirname(o.dbFilename), { recursive: true });
  const child = spawn(o.cliPath, devServerArgs(o), { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  return child;
}

/** Start detached, remember its PID, and return once the frontend and the Web UI answer. */
export async function startDevServerDetached(o: DevServerOptions): Promise<number> {
  assertCli(o);
  fs.mkdirSync(path.dirname(o.dbFilename), { recursive: true });
  // The log and the PID live in the state folder, which a --db-filename elsewhere does not create.
  fs.mkdirSync(path.dirname(logFile()), { recursive: true });
  const out = fs.openSync(logFile(), 'a');
  const child = spawn(o.cliPath, devServerArgs(o), { detached: true, stdio: ['ignore', out, out] });
  fs.closeSync(out);
  if (child.pid === undefined) throw new DevServerError(`could not start ${o.cliPath}`);
  writePidFile(pidFile(), child.pid);
  fs.writeFileSync(optionsFile(), `${JSON.stringify({ ip: o.ip, port: o.port, uiPort: o.uiPort })}\n`);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new DevServerError(`temporal server exited with code ${code}; see ${logFile()}`)),
    ),
  );
  await Promise.race([waitForDevServer(o), exited]);
  child.unref();
  return child.pid;
}

export function recordedServerPid(): number | undefined {
  return livePid(pidFile());
}

/** ip, port and uiPort of the server this tool started, while it runs. */
export function recordedServerOptions(): Pick<DevServerOptions, 'ip' | 'port' | 'uiPort'> | undefined {
  if (recordedServerPid() === undefined) return undefined;
  try {
    return JSON.parse(fs.readFileSync(optionsFile(), 'utf8')) as Pick<
      DevServerOptions,
      'ip' | 'port' | 'uiPort'
    >;
  } catch {
    return undefined;
  }
}

/** Stop the server this tool started (by its recorded PID only) and wait for it to exit. */
export function stopDevServer(timeoutMs = 20_000): Promise<number | undefined> {
  return stopRecorded(pidFile(), timeoutMs);
}

export const devServerLogFile = logFile;
