import { Client, Connection } from '@temporalio/client';
import { resolveTemporalTarget } from '../shared/temporalConnection';

/** Open a client for the configured Temporal cluster; the caller closes the connection. */
export async function connectClient(): Promise<{ client: Client; connection: Connection; address: string }> {
  const target = resolveTemporalTarget();
  const connection = await Connection.connect(target.connectionOptions).catch((err: Error) => {
    // A server that wants mTLS drops a client without a certificate just like an absent one.
    const tls = target.connectionOptions.tls
      ? ''
      : ' If it requires client certificates, set TEMPORAL_TLS_* or TEMPORAL_CONFIG_FILE (`deploy server start --backend postgres` prints its profile).';
    throw new Error(
      `cannot reach Temporal at ${target.address} (${err.message}). Start one with \`deploy server start --detach\` or set TEMPORAL_ADDRESS.${tls}`,
    );
  });
  return {
    client: new Client({ connection, namespace: target.namespace }),
    connection,
    address: target.address,
  };
}

/** Run `fn` with a connected client and close the connection afterwards, whatever happens. */
export async function withClient<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const { client, connection } = await connectClient();
  try {
    return await fn(client);
  } finally {
    await connection.close();
  }
}
