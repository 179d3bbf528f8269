/**
 * A target host as the remote layer sees it. It holds no secret: a key is named by its path on
 * the worker's disk and a password by a reference the worker's SecretResolver understands, so a
 * RemoteHost can travel in workflow and activity payloads.
 */
export interface RemoteHost {
  /** Inventory name, used in every message (e.g. `p0`). */
  name: string;
  address: string;
  /** Default 22. */
  port?: number;
  user: string;
  auth: HostAuth;
  /** Overrides the pool's policy for this host (e.g. an inventory that asks for accept-new). */
  hostKeyPolicy?: HostKeyPolicy;
}

export type HostAuth = { privateKeyPath: string } | { passwordRef: string };

/**
 * `strict`: the host must already be in known_hosts with the key it presents.
 * `accept-new`: an unknown host is trusted and appended to known_hosts; a changed key is still refused.
 */
export type HostKeyPolicy = 'strict' | 'accept-new';

/** Where passwords come from is the worker's business (env, a file, a vault); the layer only asks. */
export interface SecretResolver {
  resolve(ref: string): Promise<string>;
}

/** One SSH connection per distinct user@address:port. */
export function connectionKey(host: RemoteHost): string {
  return `${host.user}@${host.address}:${host.port ?? 22}`;
}
