import type { Command } from 'commander';

// Loaded when it runs (see main.ts): the inventory loader and the planner, no Temporal at all.
const actions = (): typeof import('../actions/plan') => require('../actions/plan');

const collect = (v: string, prev: string[] = []) => [...prev, v];

export function registerPlanCommand(program: Command): void {
  program
    .command('plan')
    .description(
      'show what an inventory deploys: hosts, instances, ports, devices, containers, proxy upstreams',
    )
    .requiredOption('-i, --inventory <file>', "the seed's Ansible inventory (YAML)")
    .option('-e, --extra-vars <key=value>', 'override a setting, like ansible -e (repeatable)', collect, [])
    .option('--json', 'print the plan as JSON (stable, for scripts)')
    .action((flags: { inventory: string; extraVars: string[]; json?: boolean }) => {
      process.exitCode = actions().showPlan(flags);
    });
}
