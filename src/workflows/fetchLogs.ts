import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';
import type { FetchHostLogsInput } from '../activities/logs';
import type { Plan } from '../plan/types';
import { hostError, hostStepRetry, settleBounded, sshTarget, type HostError } from './common';

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

export interface HostLogsOutcome {
  host: string;
  ok: boolean;
  bytesReceived: number;
  /** Files that changed since the previous fetch. */
  files: number;
  error?: HostError;
}

export interface FetchLogsResult {
  cluster: string;
  hosts: HostLogsOutcome[];
  bytesReceived: number;
  failed: string[];
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
      fetch: { target: sshTarget(plan, host), remoteDir: host.logDir, localDir: host.executorLogDir },
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

/**
 * Pull every machine's LOG_PATH into LOG_PATH_IN_EXECUTOR/<host>/ on the executor, incrementally.
 * A machine that cannot be reached is reported in the result, never fatal: the others' logs are
 * what an operator needs when one host is down. Run on demand, by the fetch_log phase and by the
 * `logs/<cluster>` Schedule.
 */
export async function fetchLogsWorkflow(input: FetchLogsInput): Promise<FetchLogsResult> {
  const settled = await settleBounded(input.sources, input.parallelism ?? 8, (source) => {
    const { fetchHostLogs } = proxyActivities<typeof activities>({
      taskQueue: input.executorTaskQueue,
      startToCloseTimeout: '30 minutes',
      heartbeatTimeout: '20 seconds',
      retry: hostStepRetry({
        initialInterval: '1 second',
        maximumInterval: '10 seconds',
        maximumAttempts: input.maximumAttempts ?? 3,
      }),
      summary: `${source.host} · fetch_log`,
    });
    return fetchHostLogs(source.fetch);
  });
  const cancelled = settled.find((r) => r.status === 'rejected' && isCancellation(r.reason));
  if (cancelled) throw (cancelled as PromiseRejectedResult).reason;
  const hosts = input.sources.map((source, i): HostLogsOutcome => {
    const r = settled[i]!;
    if (r.status === 'fulfilled') {
      return {
        host: source.host,
        ok: true,
        bytesReceived: r.value.bytesReceived,
        files: r.value.filesTransferred,
      };
    }
    return { host: source.host, ok: false, bytesReceived: 0, files: 0, error: hostError(r.reason) };
  });
  return {
    cluster: input.cluster,
    hosts,
    bytesReceived: hosts.reduce((n, h) => n + h.bytesReceived, 0),
    failed: hosts.filter((h) => !h.ok).map((h) => h.host),
  };
}
