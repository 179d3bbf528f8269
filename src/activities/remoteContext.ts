import { ApplicationFailure } from '@temporalio/common';
import { Remote, RemoteError, type RemoteHost, type SecretResolver } from '../remote';
import type { SshTarget } from './types';
import { resolveInventoryPassword } from './secrets';

/**
 * One Remote (SSH pool) per known_hosts file in this worker process, so every activity on a host
 * reuses one connection. Host-key policy is per host; the pool only needs the file.
 */
const remotes = new Map<string, Remote>();

const secrets: SecretResolver = { resolve: resolveInventoryPassword };

export function remoteFor(target: SshTarget): { remote: Remote; host: RemoteHost } {
  let remote = remotes.get(target.knownHostsFile);
  if (!remote) {
    remote = new Remote({ knownHostsPath: target.knownHostsFile, secrets });
    remotes.set(target.knownHostsFile, remote);
  }
  const host: RemoteHost = {
    name: target.name,
    address: target.address,
    port: target.port,
    user: target.user,
    auth:
      target.auth.method === 'key'
        ? { privateKeyPath: target.auth.keyFile }
        : { passwordRef: `${target.auth.inventoryFile}#${target.auth.inventoryHost}` },
    hostKeyPolicy: target.hostKeyPolicy,
  };
  return { remote, host };
}

/** Close every pooled connection (worker shutdown, tests). */
export async function closeRemotes(): Promise<void> {
  await Promise.all([...remotes.values()].map((r) => r.closeAll()));
  remotes.clear();
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
