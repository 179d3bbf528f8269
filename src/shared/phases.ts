/**
 * The phases of a cluster, named like the seed playbook's tags so `--tags` / `--skip-tags` read
 * the same. Order here is execution order.
 */
export const PHASES = [
  'preflight',
  'run_docker',
  'sync_code',
  'ranktable',
  'run_server',
  'run_proxy',
  'verify',
  'fetch_log',
  'clean_up',
] as const;

export type Phase = (typeof PHASES)[number];

/** On-demand phases: they run only when asked for by tag (the seed's README skips fetch_log too). */
const ON_DEMAND: readonly Phase[] = ['fetch_log', 'clean_up'];

export function isPhase(name: string): name is Phase {
  return (PHASES as readonly string[]).includes(name);
}

export class PhaseSelectionError extends Error {}

/**
 * Phases selected by Ansible-style tags: none given = every phase except the on-demand ones; the
 * seed's `all` tag is accepted. Unknown names are an error that lists the valid ones.
 */
export function selectPhases(tags: readonly string[] = [], skipTags: readonly string[] = []): Phase[] {
  const unknown = [...tags, ...skipTags].filter((t) => t !== 'all' && !isPhase(t));
  if (unknown.length > 0) {
    throw new PhaseSelectionError(`unknown tag(s) ${unknown.join(', ')}; valid tags: ${PHASES.join(', ')}`);
  }
  const wanted =
    tags.length === 0 || tags.includes('all')
      ? PHASES.filter((p) => !ON_DEMAND.includes(p) || tags.includes(p))
      : PHASES.filter((p) => tags.includes(p));
  return wanted.filter((p) => !skipTags.includes(p));
}
