/**
 * When each host last answered on its SSH connection, for telling the operator about a host that
 * has gone quiet while a step still waits on it (a cut link, a hung host): SSH keepalives get no
 * reply, nothing else arrives, and the step's attempt is still open until the keepalives give up.
 *
 * Process-wide on purpose: whether a host answers is a fact about the network, whichever pool
 * asked, and the activities' heartbeat (src/activities/heartbeat.ts) reads it by inventory host
 * name without being handed the pool.
 */
export interface Listening {
  /** When the connection last received anything (epoch ms). */
  lastHeardAt: number;
  /** Open channels: a connection with none is idle, so its silence means nothing. */
  active: number;
  alive: boolean;
}

const byHost = new Map<string, Listening>();

/** The connection that now serves inventory host `name`. */
export function listenFor(name: string, connection: Listening): void {
  byHost.set(name, connection);
}

/**
 * For how long (ms) host `name` has not answered while a command of it runs on its connection;
 * undefined when nothing runs there or no connection serves it.
 */
export function silenceOf(name: string, now = Date.now()): number | undefined {
  const c = byHost.get(name);
  if (!c || !c.alive || c.active === 0) return undefined;
  return Math.max(0, now - c.lastHeardAt);
}
