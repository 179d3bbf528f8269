import { Client, Connection } from '@temporalio/client';
import { resolveTemporalTarget } from '../shared/temporalConnection';

/** Open a client for the configured Temporal cluster; the caller closes the connection. */
export async function connectClient(): Promise<{ client: Client; connection: Connection; address: string }> {
  const target = resolveTemporalTarget();
  const connection = await Connection.connect(target.connectionOptions).catch((err: Error) => {
    throw new Error(
      `cannot reach Temporal at ${target.address} (${err.message}). Start one with \`deploy server start --detach\` or set TEMPORAL_ADDRESS.`,
    );
  });
  return {
    client: new Client({ connection, namespace: target.namespace }),
    connection,
    address: target.address,
  };
}
