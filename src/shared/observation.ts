/**
 * What the health watch sees on one host, and how two sightings are compared. Shared by the watch
 * activity (it returns when the signature changes) and the cluster workflow (it judges health
 * from observations and passes the signature it knows).
 */
export interface HostObservation {
  /** Inventory host name. */
  host: string;
  /** SSH answered within the probe's time. */
  reachable: boolean;
  /** Why the host could not be probed (unreachable) or what the probe said. */
  error?: string;
  container: 'running' | 'stopped' | 'missing' | 'unknown';
  /** The host's API servers (engine hosts): each one's `/health`. */
  servers: { port: number; dpRank: number; healthy: boolean }[];
  /** The proxy host: its own `/health` verdict, or unreachable when it does not answer. */
  proxy?: 'ok' | 'degraded' | 'down' | 'unreachable';
}

/**
 * A compact description of what was observed, without the wording of errors: two observations
 * with the same signature mean nothing changed. The watch returns only when it differs, so the
 * workflow's history grows with changes, not with time.
 */
export function observationSignature(observations: readonly HostObservation[]): string {
  return [...observations]
    .sort((a, b) => (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    .map(
      (o) =>
        `${o.host}:${o.reachable ? 'up' : 'unreachable'}:${o.container}:${o.servers
          .map((s) => `${s.port}${s.healthy ? '+' : '-'}`)
          .join(',')}:${o.proxy ?? ''}`,
    )
    .join('|');
}
