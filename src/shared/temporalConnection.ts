import { loadClientConnectConfig } from '@temporalio/envconfig';

/** Where a fresh machine's `deploy server` listens; used only when nothing else is configured. */
export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export interface TemporalTarget {
  address: string;
  namespace: string;
  connectionOptions: ReturnType<typeof loadClientConnectConfig>['connectionOptions'];
}

/**
 * Resolve connection settings the way every Temporal tool does: the TOML config file and profile
 * (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE), then TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE /
 * TEMPORAL_API_KEY / TEMPORAL_TLS_* from the environment. Pointing omni-deploy at another
 * Temporal cluster is a matter of configuration, never code.
 */
export function resolveTemporalTarget(profile?: string): TemporalTarget {
  const config = loadClientConnectConfig({ profile: profile ?? process.env.TEMPORAL_PROFILE });
  const address = config.connectionOptions.address ?? DEFAULT_TEMPORAL_ADDRESS;
  return {
    address,
    namespace: config.namespace ?? 'default',
    connectionOptions: { ...config.connectionOptions, address },
  };
}

/**
 * Why a client or worker could not connect, and what to do: said the same way by every command
 * (the SDK's own text, e.g. a tonic transport error, is kept in parentheses).
 */
export function unreachableMessage(target: TemporalTarget, err: unknown): string {
  const reason = err instanceof Error ? err.message : String(err);
  // A server that wants mTLS drops a client without a certificate just like an absent one.
  const tls = target.connectionOptions.tls
    ? ''
    : ' If it requires client certificates, set TEMPORAL_TLS_* or TEMPORAL_CONFIG_FILE (`deploy server start --backend postgres` prints its profile).';
  return `cannot reach Temporal at ${target.address} (${reason}). Start one with \`deploy server start --detach\` or set TEMPORAL_ADDRESS.${tls}`;
}
