/**
 * How a target host is reached, declared once for the whole path inventory → Plan → activity
 * inputs → remote layer. Secret-free by construction: a key is named by its file on the worker's
 * disk, a password by where the worker finds it, so a HostRef may travel in workflow and activity
 * payloads (Temporal history is readable by anyone with Web UI access).
 */

/**
 * `strict`: the host must already be in known_hosts with the key it presents.
 * `accept-new`: an unknown host is trusted and appended to known_hosts; a changed key is still refused.
 */
export type HostKeyPolicy = 'strict' | 'accept-new';

/** The container engine's command line on a host; both take the same argv for what we run. */
export type ContainerCli = 'docker' | 'podman';

/**
 * Where a worker finds a host's password: the host's `ansible_password` in the inventory file, or
 * the worker's OMNI_DEPLOY_SSH_PASSWORD_<HOST> (src/activities/secrets.ts).
 */
export interface PasswordRef {
  /** Absolute path of the inventory on the worker's machine. */
  inventoryFile: string;
  inventoryHost: string;
}

/** A key is a file that must exist at that path on every worker machine; a password a PasswordRef. */
export type HostAuth = { method: 'key'; keyFile: string } | { method: 'password'; password: PasswordRef };

/** The login part of a HostRef: what the Plan keeps per host beside its name and address. */
export interface HostLogin {
  port: number;
  user: string;
  auth: HostAuth;
  /** The known_hosts file the host key is checked against, on the worker's machine. */
  knownHostsFile: string;
  hostKeyPolicy: HostKeyPolicy;
}

/** One target host, as every activity input names it and as the remote layer connects to it. */
export interface HostRef extends HostLogin {
  /** Inventory host name (p0, d1, c0…), used in every message. */
  name: string;
  address: string;
}
