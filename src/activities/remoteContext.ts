import { ApplicationFailure } from '@temporalio/common';
import { Remote, RemoteError, type RemoteHost } from '../remote';
import type { HostRef } from './types';
import { inventorySecrets } from './secrets';

/**
 * One Remote (SSH pool) in this worker process, so every activity on a host reuses one connection.
 * Known_hosts file and host-key policy are each host's own.
 */
let remote: Remote | undefined;

export function remoteFor(target: HostRef): { remote: Remote; host: RemoteHost } {
  remote ??= new Remote({ secrets: inventorySecrets });
  return { remote, host: target };
}

/** Close every pooled connection (worker shutdown, tests). */
export async function closeRemotes(): Promise<void> {
  const open = remote;
  remote = undefined;
  await open?.closeAll();
}

/**
 * Remote errors become ApplicationFailures whose type the workflow shows and whose retryability
 * the remote layer decided (a refused host key will not get better by retrying; a lost
 * connection may).
 */
export function asFailure(err: unknown): unknown {
  if (err instanceof RemoteError) {
    return ApplicationFailure.create({ message: err.message, type: err.type, nonRetryable: !err.retryable });
  }
  return err;
}

/** Run an activity body with remote errors classified on the way out. */
export async function classified<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    throw asFailure(err);
  }
}

export function fail(type: string, message: string, details?: unknown): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true, details: details ? [details] : [] });
}
