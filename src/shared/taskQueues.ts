import { hostname } from 'node:os';

/**
 * Task queue names, in one place so workers and clients can never disagree.
 *
 * The shared queue carries workflows and every activity that only needs network access to the
 * targets, so any number of worker processes on any machine can add capacity. The executor queue
 * is named for one machine: activities that read or write that machine's own disk (the code
 * folder that `sync_code` pushes, the log folder `fetch_log` fills) run there.
 */
export const SHARED_TASK_QUEUE = 'omni-deploy';

export function executorTaskQueue(executor: string = hostname()): string {
  return `${SHARED_TASK_QUEUE}@${executor}`;
}
