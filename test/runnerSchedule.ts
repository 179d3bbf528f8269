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

/** What the machine looked like when a lane came free (test/machineLoad.ts). */
export interface MachineRoom {
  /** Busy cores averaged over the last few seconds. */
  busyCores: number;
  cores: number;
  /** Since the last file started: a file's set-up burst (sim hosts, a deploy) shows only after it. */
  msSinceStart: number;
  /** How long the last file started is expected to take (its time in the last run). */
  lastExpectedMs: number;
}

/**
 * A file starting now must leave this much of a core free, and wait this long after the last one
 * started (at most: a quarter of the last one's expected time if that is shorter).
 */
export const ROOM = { headroomCores: 0.6, settleMs: 10_000 } as const;

/**
 * Whether a lane's next file may start now, given the machine: e2e files mostly wait on their
 * simulated hosts, so a fixed number at a time leaves cores idle when the running ones wait and
 * starves them when they all work. A file starts when nothing runs, or once the last start has
 * settled and the machine has room for one more.
 */
export function hasRoom(running: number, room: MachineRoom | undefined): boolean {
  if (running === 0 || room === undefined) return true;
  // A short file's burst is over sooner: a 2-second file does not hold the next one for 10 s.
  const settle = Math.min(ROOM.settleMs, room.lastExpectedMs / 4);
  return room.msSinceStart >= settle && room.busyCores <= room.cores - ROOM.headroomCores;
}
