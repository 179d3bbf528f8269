import { ActivityFailure, ApplicationFailure, type RetryPolicy } from '@temporalio/workflow';
import type { Plan, PlanHost } from '../plan/types';
import { NON_RETRYABLE_ERROR_TYPES } from '../shared/errorTypes';
import type { HostAuth, HostRef } from '../shared/host';

/**
 * What the cluster workflow and the log-fetch workflow share about working on hosts: how a host is
 * reached, how many are worked on at once, which failures are retried, and how a failure is told
 * to the operator.
 */

/** The operator-facing part of a host step's failure. */
export interface HostError {
  /** The classified error type (e.g. HostKeyMismatch, ConnectionError), from the activity failure. */
  type: string;
  message: string;
  nonRetryable: boolean;
}

/** The operator-facing part of an activity failure: its classified type and message. */
export function hostError(err: unknown): HostError {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  if (cause instanceof ApplicationFailure) {
    return { type: cause.type ?? 'Error', message: cause.message, nonRetryable: cause.nonRetryable === true };
  }
  if (cause instanceof Error) return { type: cause.name, message: cause.message, nonRetryable: false };
  return { type: 'Error', message: String(cause), nonRetryable: false };
}

/**
 * The retry policy of every host step: backoff for what may pass (network, SSH), none for the
 * error types the activities classify as permanent (bad configuration, auth, host key, missing
 * image), which would only fail again while the operator waits.
 */
export function hostStepRetry(retry: Omit<RetryPolicy, 'nonRetryableErrorTypes'>): RetryPolicy {
  return { ...retry, nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] };
}

/**
 * For activities that never fail by themselves (the health watch, waiting for a host): only a lost
 * worker makes them retry, for as long as the cluster lives.
 */
export const RETRY_WHILE_THE_CLUSTER_LIVES: RetryPolicy = hostStepRetry({
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '30 seconds',
  maximumAttempts: 1_000_000,
});

/**
 * Run `work` for every item with at most `limit` in flight, settling all of them (a failure does
 * not stop the others: one host's error must not abort the rest, unlike the seed's
 * any_errors_fatal). Deterministic: items start in order as slots free up.
 */
export async function settleBounded<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await work(items[i]!) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}

/** How the activities reach a host over SSH; secrets travel as references, never as values. */
export function hostRef(plan: Plan, host: PlanHost): HostRef {
  return {
    name: host.name,
    address: host.address,
    ...host.ssh,
    auth: currentAuth(plan, host.ssh.auth as HostAuth | LegacyAuth),
  };
}

/**
 * Plans recorded before the shared host type named a key `privateKeyFile` and a password by
 * `secretRef` (its inventory file was the Plan's). A cluster workflow keeps its Plan for life, so
 * one started then still hands those to this code.
 */
type LegacyAuth =
  { method: 'key'; privateKeyFile: string } | { method: 'password'; secretRef: { inventoryHost: string } };

function currentAuth(plan: Plan, auth: HostAuth | LegacyAuth): HostAuth {
  if (auth.method === 'key') {
    return 'keyFile' in auth ? auth : { method: 'key', keyFile: auth.privateKeyFile };
  }
  return 'password' in auth
    ? auth
    : {
        method: 'password',
        password: { inventoryFile: plan.inventoryFile, inventoryHost: auth.secretRef.inventoryHost },
      };
}
