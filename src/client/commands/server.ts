import { InvalidArgumentError, Option, type Command } from 'commander';
import { defaultDevServerOptions } from '../../temporal/devServerOptions';
import { NATIVE_POSTGRES_PORT, UI_PORT } from '../../temporal/production/topology';
import { portNumber } from '../options';
import type { ServerFlags } from '../actions/server';

// Loaded when a server command runs (see main.ts).
const actions = (): typeof import('../actions/server') => require('../actions/server');
const production = (): typeof import('../actions/productionServer') => require('../actions/productionServer');

const backend = (v: string): 'dev' | 'postgres' => {
  if (v !== 'dev' && v !== 'postgres') throw new InvalidArgumentError('expected dev or postgres');
  return v;
};

export function registerServerCommands(program: Command): void {
  const d = defaultDevServerOptions();
  const server = program
    .command('server')
    .description(
      'run Temporal on this machine: the dev server (SQLite), or the production topology (PostgreSQL)',
    );

  server
    .command('start', { isDefault: true })
    .description(
      'start `temporal server start-dev` (foreground unless --detach), or with --backend postgres PostgreSQL, ' +
        'temporal-server and the Web UI server in the background; reuse what answers',
    )
    .option(
      '--backend <dev|postgres>',
      'dev: the CLI dev server; postgres: the production topology of docker-compose.temporal.yml, natively',
      backend,
      'dev',
    )
    .option('--ip <ip>', 'address to bind (postgres: where every Temporal service listens)', d.ip)
    .option('--port <port>', 'gRPC frontend port', portNumber, d.port)
    .option(
      '--ui-port <port>',
      `Web UI port (default: ${d.uiPort}; ${UI_PORT} with --backend postgres)`,
      portNumber,
    )
    .option('--db-filename <file>', 'dev: SQLite file that keeps workflows across restarts', d.dbFilename)
    .option('--ui-ip <ip>', 'postgres: address the Web UI binds (default: --ip)')
    .option('--db-port <port>', 'postgres: PostgreSQL port on 127.0.0.1', portNumber, NATIVE_POSTGRES_PORT)
    .option('--no-tls', 'postgres: no mTLS (any client may connect); default: client certificates required')
    .option('-d, --detach', 'dev: run in the background and return once it answers (postgres always does)')
    .action((flags: ServerFlags) => actions().startServer(flags));

  server
    .command('stop')
    .description('stop what `deploy server start` started in the background (its data stays)')
    .action(() => actions().stopServer());

  server
    .command('status')
    .description(
      'show the production topology this checkout started, else whether the Temporal server this tool is ' +
        'pointed at answers (TEMPORAL_ADDRESS / profile, else the local default)',
    )
    .option('--ip <ip>', 'address (default: from TEMPORAL_ADDRESS or the profile)')
    .option('--port <port>', 'gRPC frontend port (default: from TEMPORAL_ADDRESS or the profile)', portNumber)
    .option('--ui-port <port>', 'Web UI port (default: as started, else port + 1000)', portNumber)
    .action(async (flags: Partial<ServerFlags>) => {
      process.exitCode = await actions().serverStatus(flags);
    });

  program
    .command('certs')
    .description(
      "make the production Temporal's mTLS certificates (CA, server, clients); keep what exists and fits",
    )
    .option('--dir <dir>', 'where (default: the state folder, as --backend postgres uses them)')
    .addOption(repeatable('--ip <ip>', 'an address clients dial the server by (repeatable)'))
    .addOption(repeatable('--dns <name>', 'a host name clients dial the server by (repeatable)'))
    .addOption(
      repeatable(
        '--client <name>',
        'a client certificate NAME.pem/NAME.key, e.g. per worker machine (repeatable)',
        'client',
      ),
    )
    .action((flags: CertsFlags) => production().certs(flags));
}

const repeatable = (flags: string, description: string, shownDefault = 'none') =>
  new Option(flags, description)
    .argParser((v: string, prev: string[]) => [...prev, v])
    .default([], shownDefault);

export interface CertsFlags {
  dir?: string;
  ip: string[];
  dns: string[];
  client: string[];
}
