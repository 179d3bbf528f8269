import { ApplicationFailure } from '@temporalio/common';
import { RemoteError } from '../remote';

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
