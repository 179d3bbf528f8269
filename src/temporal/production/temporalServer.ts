import * as fs from 'node:fs';
import type { ConnectionOptions } from '@temporalio/client';
import { Connection, google } from '../clientSdk';
import { ensureSearchAttributes } from '../searchAttributeSetup';
import { clientIdentity, serverIdentity } from './certificates';
import { daemonPid, logTail, startDaemon, waitFor } from './daemon';
import { cleanEnvironment } from './exec';
import { binaryPath, DYNAMIC_CONFIG_FILE, type ProductionLayout } from './layout';
import { frontendAddress, type ProductionSettings } from './settings';
import { SEARCH_ATTRIBUTES } from '../../shared/searchAttributes';
import { NAMESPACE, NAMESPACE_RETENTION_HOURS, serverEnvironment, TLS_SERVER_NAME } from './topology';

/*
 * temporal-server: all four services (frontend, history, matching, the system worker) in one
 * process, configured by its embedded template from serverEnvironment() — the temporalio/server
 * image's way — with PostgreSQL as both stores.
 */

/** How this machine's tools reach the frontend (with this machine's client certificate). */
export function frontendConnection(layout: ProductionLayout, s: ProductionSettings): ConnectionOptions {
  const address = frontendAddress(s);
  if (!s.tls) return { address };
  const id = clientIdentity(layout.tls);
  return {
    address,
    tls: {
      serverNameOverride: TLS_SERVER_NAME,
      serverRootCACertificate: fs.readFileSync(id.ca),
      clientCertPair: { crt: fs.readFileSync(id.cert), key: fs.readFileSync(id.key) },
    },
  };
}

/** The frontend answers GetSystemInfo within 2 s. */
export async function frontendAnswers(options: ConnectionOptions): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: 2000 });
    const c = connection;
    await c.withDeadline(Date.now() + 2000, () => c.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

export interface ServerReport {
  pid: number;
  started: boolean;
}

export async function ensureTemporalServer(
  layout: ProductionLayout,
  s: ProductionSettings,
  dbPassword: string,
): Promise<ServerReport> {
  const options = frontendConnection(layout, s);
  const running = daemonPid(layout.server.pid);
  if (running !== undefined) {
    // Running: answering now, or still starting (give it the time a start gets).
    await waitFor(`temporal-server (pid ${running}) on ${options.address}`, 120_000, () =>
      frontendAnswers(options),
    );
    return { pid: running, started: false };
  }
  const env = serverEnvironment({
    db: { host: '127.0.0.1', port: s.dbPort, password: dbPassword },
    bindOnIp: s.ip,
    frontendPort: s.port,
    dynamicConfigFile: DYNAMIC_CONFIG_FILE,
    ...(s.tls && { tls: serverIdentity(layout.tls) }),
  });
  const daemon = startDaemon([binaryPath('temporal-server'), 'start'], {
    env: cleanEnvironment(env),
    log: layout.server.log,
    pidFile: layout.server.pid,
  });
  try {
    await waitFor(
      `temporal-server on ${options.address}`,
      120_000,
      () => frontendAnswers(options),
      daemon.exited,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${logTail(layout.server.log)}`);
  }
  daemon.release();
  return { pid: daemon.pid, started: true };
}

const ALREADY_EXISTS = 6;

/**
 * The namespace (with its retention) and the workflows' search attributes, as the compose file's
 * one-shot creates them; what exists is left alone. Returns once the frontend accepts a
 * visibility query that names them: a fresh namespace reaches the frontend's cache a few
 * seconds after it is stored.
 */
export async function ensureNamespace(options: ConnectionOptions): Promise<{ created: boolean }> {
  const connection = await Connection.connect(options);
  try {
    let created = false;
    try {
      await connection.workflowService.registerNamespace({
        namespace: NAMESPACE,
        workflowExecutionRetentionPeriod: google.protobuf.Duration.fromObject({
          seconds: NAMESPACE_RETENTION_HOURS * 3600,
        }),
        description: 'omni-deploy clusters',
      });
      created = true;
    } catch (err) {
      if ((err as { code?: number }).code !== ALREADY_EXISTS) throw err;
    }
    const query = SEARCH_ATTRIBUTES.map((k) => `${k.name} = "probe"`).join(' AND ');
    let lastError = '';
    await waitFor(`namespace ${NAMESPACE} with its search attributes`, 60_000, async () => {
      try {
        await ensureSearchAttributes(connection, NAMESPACE);
        await connection.workflowService.listWorkflowExecutions({ namespace: NAMESPACE, query, pageSize: 1 });
        return true;
      } catch (err) {
        lastError = (err as Error).message;
        return false;
      }
    }).catch((err: Error) => {
      throw new Error(`${err.message}: ${lastError}`);
    });
    return { created };
  } finally {
    await connection.close();
  }
}
