import type { Command } from 'commander';

// Loaded when it runs (see main.ts): the simulated cluster, the dev server, the Temporal client.
const actions = (): typeof import('../actions/demo') => require('../actions/demo');

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'deploy the simulated 2P1D cluster end to end on this machine (dev server, sim hosts, worker), send a completion through the proxy, print the Web UI address',
    )
    .action(() => actions().runDemo());
}
