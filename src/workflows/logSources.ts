import type { FetchHostLogsInput } from '../activities/logs';
import type { Plan } from '../plan/types';
import { hostRef } from './common';

/*
 * What a log fetch reads: pure functions of a Plan, apart from the workflow (fetchLogs.ts) so the
 * CLI builds a fetch's input without loading workflow code.
 */

/** One machine whose LOG_PATH is fetched. */
export interface LogSource {
  /** The machine's first inventory host: its folder on the executor is named after it. */
  host: string;
  /** Other inventory hosts on the same machine (the seed's c0 beside p0): same LOG_PATH, fetched once. */
  sharedWith: string[];
  fetch: FetchHostLogsInput;
}

/** The part of a Plan log fetching needs: small, so every scheduled run's history stays small. */
export interface FetchLogsInput {
  cluster: string;
  sources: LogSource[];
  /** The executor machine's queue: the activity writes that machine's disk. */
  executorTaskQueue: string;
  /** Most machines fetched at once. */
  parallelism?: number;
  /** Attempts per machine before it is reported as failed (a host that is down costs these). */
  maximumAttempts?: number;
}

/** Every machine of the plan (prefill, decode and proxy hosts), each once. */
export function logSources(plan: Plan): LogSource[] {
  const byAddress = new Map<string, LogSource>();
  for (const host of plan.hosts) {
    const known = byAddress.get(host.address);
    if (known) {
      known.sharedWith.push(host.name);
      continue;
    }
    byAddress.set(host.address, {
      host: host.name,
      sharedWith: [],
      fetch: { target: hostRef(plan, host), remoteDir: host.logDir, localDir: host.executorLogDir },
    });
  }
  return [...byAddress.values()];
}

export function fetchLogsInput(
  plan: Plan,
  executorTaskQueue: string,
  tuning: Pick<FetchLogsInput, 'parallelism' | 'maximumAttempts'> = {},
): FetchLogsInput {
  return { cluster: plan.cluster, sources: logSources(plan), executorTaskQueue, ...tuning };
}
