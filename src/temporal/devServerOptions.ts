import * as path from 'node:path';
import { stateDir, temporalCliPath } from '../shared/paths';

/*
 * The local dev server's settings, apart from devServer.ts (which probes and starts it with the
 * Temporal client): `deploy server --help` shows these defaults without loading the client.
 */

export interface DevServerOptions {
  ip: string;
  port: number;
  uiPort: number;
  /** SQLite file; persistent so workflows survive a restart of the server. */
  dbFilename: string;
  cliPath: string;
}

export function defaultDevServerOptions(): DevServerOptions {
  return {
    ip: '127.0.0.1',
    port: 7233,
    uiPort: 8233,
    dbFilename: path.join(stateDir(), 'temporal', 'dev.db'),
    cliPath: temporalCliPath(),
  };
}

export const uiUrl = (o: Pick<DevServerOptions, 'ip' | 'uiPort'>) => `http://${o.ip}:${o.uiPort}`;
