import type { HostRef, PasswordRef } from '../shared/host';
import { workerPath } from './workerPath';

export type { HostAuth, HostKeyPolicy, PasswordRef } from '../shared/host';

/**
 * A target host as the remote layer sees it: the HostRef activity inputs carry (src/shared/host.ts).
 * It holds no secret, and it says itself which known_hosts file and policy verify it.
 */
export type RemoteHost = HostRef;

/** Where passwords come from is the worker's business (env, a file, a vault); the layer only asks. */
export interface SecretResolver {
  resolve(ref: PasswordRef): Promise<string>;
}

/**
 * One SSH connection per distinct user@address:port and known_hosts file: a connection whose host
 * key was checked against one file must not serve a host that names another.
 */
export function connectionKey(host: RemoteHost): string {
  return `${host.user}@${host.address}:${host.port} ${workerPath(host.knownHostsFile)}`;
}

/** "the password of p0 in /srv/inventories/2P1D.yml": where it is, never what it is. */
export function describePasswordRef(ref: PasswordRef): string {
  return `the password of ${ref.inventoryHost} in ${ref.inventoryFile}`;
}
