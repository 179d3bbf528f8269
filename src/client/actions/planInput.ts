import type { Plan } from '../../plan/types';

/** `-e KEY=VALUE` pairs, like Ansible's extra vars. */
export function parseExtraVars(pairs: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`-e expects KEY=VALUE, got "${pair}"`);
    vars[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return vars;
}

/** One line for the Web UI's static summary: what this cluster is. */
export function planSummary(plan: Plan): string {
  return `${plan.cluster}: ${plan.prefill.length}P${plan.decode.length}D on ${plan.hosts.length} hosts`;
}
