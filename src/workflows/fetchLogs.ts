import { isCancellation, proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { hostError, hostStepRetry, settleBounded, type HostError } from './common';
import type { FetchLogsInput } from './logSources';

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

/**
 * Pull every machine's LOG_PATH into LOG_PATH_IN_EXECUTOR/<host>/ on the executor, incrementally.
 * A machine that cannot be reached is reported in the result, never fatal: the others' logs are
 * what an operator needs when one host is down. Run on demand, by the fetch_log phase and by the
 * `logs/<cluster>` Schedule.
 */
export async function fetchLogsWorkflow(input: FetchLogsInput): Promise<FetchLogsResult> {
  const settled = await settleBounded(input.sources, input.parallelism ?? 8, (source) => {
    const { fetchHostLogs } = proxyActivities<Activities>({
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
