import type { Command } from 'commander';
import { engineOption } from './sim';

// Loaded when it runs (see main.ts): the simulated cluster, the dev server, the Temporal client.
const actions = (): typeof import('../actions/demo') => require('../actions/demo');

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'deploy the simulated 2P1D cluster end to end on this machine (dev server, sim hosts, worker), send a completion through the proxy, print the Web UI address',
    )
    .addOption(engineOption("the simulated hosts' container engine"))
    .action((o: { engine?: 'podman' | 'docker' }) => actions().runDemo(undefined, o.engine));
}
