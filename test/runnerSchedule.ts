/** What the test runner's pool needs to know of a file to schedule it (test/runner.ts). */
export interface Schedulable {
  /** Files of one group never run at the same time (they share a port, an instance, a folder). */
  group?: string;
  /** Runs with no other file at all. */
  alone: boolean;
  /**
   * How many lanes it takes: 2 for a file that loads the machine for two (PostgreSQL and a
   * Temporal server of its own) or measures timing under load that a third file would distort.
   */
  lanes: number;
}

/**
 * The index in `waiting` (longest first) of the file a free lane starts now, or -1 to wait for a
 * running one to end: the first that fits the free lanes, is not `alone` (unless nothing runs)
 * and shares no group with a running file. Nothing starts next to an `alone` file; an `alone`
 * file starts once nothing runs, so it may end up last.
 */
export function nextJob<J extends Schedulable>(
  waiting: readonly J[],
  running: readonly J[],
  lanes: number,
): number {
  const used = running.reduce((n, r) => n + r.lanes, 0);
  if (running.length === 0) return waiting.length > 0 ? 0 : -1;
  if (used >= lanes || running.some((r) => r.alone)) return -1;
  return waiting.findIndex(
    (j) =>
      !j.alone &&
      used + j.lanes <= lanes &&
      !running.some((r) => j.group !== undefined && r.group === j.group),
  );
}
