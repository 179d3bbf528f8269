import type { Command } from 'commander';
import { defaultDevServerOptions } from '../../temporal/devServerOptions';
import { portNumber } from '../options';
import type { ServerFlags } from '../actions/server';

// Loaded when a server command runs (see main.ts).
const actions = (): typeof import('../actions/server') => require('../actions/server');

export function registerServerCommands(program: Command): void {
  const d = defaultDevServerOptions();
  const server = program
    .command('server')
    .description('run the local Temporal dev server (persistent, with the Web UI)');

  server
    .command('start', { isDefault: true })
    .description('start `temporal server start-dev` (foreground unless --detach); reuse one that answers')
    .option('--ip <ip>', 'address to bind', d.ip)
    .option('--port <port>', 'gRPC frontend port', portNumber, d.port)
    .option('--ui-port <port>', 'Web UI port', portNumber, d.uiPort)
    .option('--db-filename <file>', 'SQLite file that keeps workflows across restarts', d.dbFilename)
    .option('-d, --detach', 'run in the background and return once it answers')
    .action((flags: ServerFlags) => actions().startServer(flags));

  server
    .command('stop')
    .description('stop the dev server that `deploy server start --detach` started')
    .action(() => actions().stopServer());

  server
    .command('status')
    .description(
      'show whether the Temporal server this tool is pointed at answers (TEMPORAL_ADDRESS / profile, else the local default)',
    )
    .option('--ip <ip>', 'address (default: from TEMPORAL_ADDRESS or the profile)')
    .option('--port <port>', 'gRPC frontend port (default: from TEMPORAL_ADDRESS or the profile)', portNumber)
    .option('--ui-port <port>', 'Web UI port (default: as started, else port + 1000)', portNumber)
    .action(async (flags: Partial<ServerFlags>) => {
      process.exitCode = await actions().serverStatus(flags);
    });
}
