import type { ClusterStatus } from '../../src/workflows/cluster/types';

/** "host · phase" of each cell of the status table that is still `running`. */
export function runningCells(status: ClusterStatus): string[] {
  return Object.entries(status.table).flatMap(([host, row]) =>
    Object.entries(row)
      .filter(([, cell]) => cell?.state === 'running')
      .map(([phase]) => `${host} · ${phase}`),
  );
}

/** Cells whose end is before their start: times of two different runs mixed in one cell. */
export function mixedCells(status: ClusterStatus): string[] {
  return Object.entries(status.table).flatMap(([host, row]) =>
    Object.entries(row)
      .filter(([, c]) => c?.startedAt !== undefined && c.endedAt !== undefined && c.endedAt < c.startedAt)
      .map(([phase, c]) => `${host} · ${phase} (${c!.startedAt} → ${c!.endedAt})`),
  );
}

/** Hosts with at least one cell whose run started at or after `since` (an operation re-ran it). */
export function hostsRunSince(status: ClusterStatus, since: number): string[] {
  return Object.entries(status.table)
    .filter(([, row]) => Object.values(row).some((c) => (c?.startedAt ?? 0) >= since))
    .map(([host]) => host)
    .sort();
}
