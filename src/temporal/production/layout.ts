import * as path from 'node:path';
import { PROJECT_ROOT, stateDir } from '../../shared/paths';

/**
 * Where the native production topology keeps its state, under the state folder: everything
 * `deploy server start --backend postgres` creates, and the only place `stop` and `status` read.
 * The database lives here too, so it survives restarts of every process (and of the machine).
 */
export function productionLayout(root = path.join(stateDir(), 'temporal-production')) {
  const postgres = path.join(root, 'postgres');
  const ui = path.join(root, 'ui');
  return {
    root,
    /** What was started, with which addresses and ports (no secret): settings.ts. */
    settings: path.join(root, 'settings.json'),
    /** An envconfig profile for clients of this server: TEMPORAL_CONFIG_FILE=<this>. */
    clientProfile: path.join(root, 'temporal.toml'),
    tls: path.join(root, 'tls'),
    postgres: {
      /** Owned by the unprivileged user PostgreSQL runs as. */
      dir: postgres,
      data: path.join(postgres, 'data'),
      /** Its Unix socket: private, not Debian's shared /var/run/postgresql. */
      socketDir: path.join(postgres, 'run'),
      log: path.join(postgres, 'postgres.log'),
    },
    /** The database password Temporal uses, readable by this tool's user only. */
    dbPassword: path.join(root, 'db-password'),
    server: { pid: path.join(root, 'temporal-server.pid'), log: path.join(root, 'temporal-server.log') },
    ui: {
      root: ui,
      /** temporal-ui-server reads <root>/config/<env>.yaml. */
      config: path.join(ui, 'config', 'production.yaml'),
      pid: path.join(root, 'temporal-ui-server.pid'),
      log: path.join(root, 'temporal-ui-server.log'),
    },
  };
}

export type ProductionLayout = ReturnType<typeof productionLayout>;

/** The binaries scripts/build-temporal.sh builds beside the Temporal CLI. */
export type TemporalBinary = 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server';

export function binaryPath(name: TemporalBinary): string {
  return path.join(PROJECT_ROOT, '.tools', 'bin', name);
}

/**
 * The server's dynamic config, one file in the checkout for both topologies: the compose file
 * mounts its folder, the native server reads it in place.
 */
export const DYNAMIC_CONFIG_FILE = path.join(PROJECT_ROOT, 'config', 'temporal', 'dynamicconfig.yaml');
