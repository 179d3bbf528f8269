import { expandPlan, isCompactPlan, type PlanInput } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import { formatPathViolation, managedFolderViolations } from '../../shared/hostPaths';
import { PHASES } from '../../shared/phases';
import type { DeployOptions } from './types';

/**
 * What the cluster workflow checks of its own input before it touches a host. The CLI validates
 * the same values where they are typed, but any client may start the workflow (another tool, the
 * Temporal CLI, a test), so the workflow refuses an input that would make it misbehave (a zero
 * parallelism hangs every fan-out, NaN attempts retry forever) instead of trusting it.
 * Returns the problems, each naming the field; empty when the input is fine.
 */
export function deployInputProblems(plan: PlanInput, options: DeployOptions): string[] {
  const expanded = expandedPlan(plan);
  return [
    ...optionProblems(options),
    ...('problem' in expanded ? [expanded.problem] : planProblems(expanded.plan)),
  ];
}

/**
 * The Plan a (compact) input stands for, or why there is none: a compact Plan from a client other
 * than the CLI may hold an inventory the planner cannot plan.
 */
export function expandedPlan(plan: PlanInput): { plan: Plan } | { problem: string } {
  if (!isCompactPlan(plan)) return { plan };
  const inventory = plan.inventory as unknown;
  if (
    !inventory ||
    typeof inventory !== 'object' ||
    !Array.isArray((inventory as { hosts?: unknown }).hosts)
  ) {
    return { problem: 'plan.inventory (planVersion 2) must be a validated inventory with hosts' };
  }
  try {
    return { plan: expandPlan(plan) };
  } catch (err) {
    return { problem: `plan.inventory (planVersion 2) cannot be planned: ${String(err)}` };
  }
}

const wholeAtLeast = (value: unknown, min: number) =>
  typeof value === 'number' && Number.isSafeInteger(value) && value >= min;

export function optionProblems(options: DeployOptions): string[] {
  const problems: string[] = [];
  if (!wholeAtLeast(options?.parallelism, 1))
    problems.push(`options.parallelism must be a whole number ≥ 1, got ${String(options?.parallelism)}`);
  const attempts = options?.activity?.retry?.maximumAttempts;
  if (!wholeAtLeast(attempts, 1))
    problems.push(
      `options.activity.retry.maximumAttempts must be a whole number ≥ 1, got ${String(attempts)}`,
    );
  if (!wholeAtLeast(options?.maxHistoryEvents, 10))
    problems.push(
      `options.maxHistoryEvents must be a whole number ≥ 10, got ${String(options?.maxHistoryEvents)}`,
    );
  if (typeof options?.executorTaskQueue !== 'string' || options.executorTaskQueue === '')
    problems.push('options.executorTaskQueue must name the executor machine’s task queue');
  problems.push(...phaseProblems(options?.phases, 'options.phases'));
  const split = options?.childSteps;
  if (split !== undefined && !wholeAtLeast(split?.minHosts, 0))
    problems.push('options.childSteps.minHosts must be a whole number ≥ 0');
  return problems;
}

export function phaseProblems(phases: unknown, field: string): string[] {
  if (!Array.isArray(phases)) return [`${field} must be a list of phases`];
  const unknown = phases.filter((p) => !(PHASES as readonly unknown[]).includes(p));
  return unknown.length > 0
    ? [`${field} has unknown phase(s) ${unknown.map(String).join(', ')}; phases are ${PHASES.join(', ')}`]
    : [];
}

/** The structure the phases rely on; the inventory loader guarantees it for Plans it builds. */
export function planProblems(plan: Plan): string[] {
  const problems: string[] = [];
  if (plan?.planVersion !== 1) return [`plan.planVersion must be 1, got ${String(plan?.planVersion)}`];
  if (typeof plan.cluster !== 'string' || !/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(plan.cluster))
    problems.push(`plan.cluster ${JSON.stringify(plan.cluster)} is not a cluster name`);
  if (!Array.isArray(plan.hosts) || plan.hosts.length === 0) problems.push('plan.hosts is empty');
  const names = new Set<string>();
  for (const h of plan.hosts ?? []) {
    if (names.has(h.name)) problems.push(`plan.hosts has ${h.name} twice`);
    names.add(h.name);
  }
  if (!plan.proxy || !names.has(plan.proxy.host)) problems.push('plan.proxy.host is not one of plan.hosts');
  for (const i of [...(plan.prefill ?? []), ...(plan.decode ?? [])]) {
    for (const h of i.hosts) if (!names.has(h)) problems.push(`instance ${i.id} names unknown host ${h}`);
  }
  if ((plan.decode ?? []).length === 0) problems.push('plan.decode is empty');
  if ((plan.prefill ?? []).length === 0) problems.push('plan.prefill is empty');
  // The folders cleanup works in, by the same rules the inventory loader applied (a Plan may
  // come from elsewhere than the loader).
  const s = plan.settings ?? ({} as Plan['settings']);
  for (const key of ['SCRIPTS_PATH', 'ranktable_save_path', 'LOG_PATH', 'CODE_PATH'] as const) {
    for (const v of managedFolderViolations(String(s[key]), s.MODEL_PATH)) {
      problems.push(`plan.settings.${key}: ${formatPathViolation(v)}`);
    }
  }
  if (plan.scriptsDir !== s.SCRIPTS_PATH) problems.push('plan.scriptsDir must be plan.settings.SCRIPTS_PATH');
  return problems;
}

/**
 * A new Plan may change anything about the hosts but which hosts there are: the state table, the
 * cleanup and every host's history are keyed by them.
 */
export function hostChangeProblems(current: Plan, next: Plan): string[] {
  if (next.cluster !== current.cluster) {
    return [`the plan is for cluster ${next.cluster}, this workflow runs ${current.cluster}`];
  }
  const names = (p: Plan) => p.hosts.map((h) => h.name);
  const [was, now] = [names(current), names(next)];
  if ([...was].sort().join() === [...now].sort().join()) return [];
  const added = now.filter((h) => !was.includes(h));
  const removed = was.filter((h) => !now.includes(h));
  return [
    `the inventory's hosts changed (added: ${added.join(', ') || 'none'}; removed: ${removed.join(', ') || 'none'}); ` +
      'run `deploy down` and start again',
  ];
}
