/** One thing wrong with an inventory, located so an editor can jump to it. */
export interface InventoryProblem {
  file: string;
  /** 1-based; 0 when the value came from the command line (`-e`). */
  line: number;
  column: number;
  /** Dotted YAML path (`all.children.P.hosts.p1.kv_rank`), or the `-e` key. */
  path: string;
  message: string;
}

/** Stands in for a file name when a value came from `-e KEY=VALUE`. */
export const EXTRA_VARS_FILE = '-e';

export function formatProblem(p: InventoryProblem): string {
  const where =
    p.file === EXTRA_VARS_FILE
      ? `-e ${p.path}`
      : `${p.file}:${p.line}:${p.column}${p.path ? `: ${p.path}` : ''}`;
  return `${where}: ${p.message}`;
}

/**
 * Every problem found in an inventory at once, so an operator fixes them in one pass. The message
 * lists them all, which is what any command that merely lets it propagate will print.
 */
export class InventoryError extends Error {
  override readonly name = 'InventoryError';

  constructor(readonly problems: readonly InventoryProblem[]) {
    const n = problems.length;
    super(
      `inventory has ${n} problem${n === 1 ? '' : 's'}:\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
  }
}
