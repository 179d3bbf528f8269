import { Client, Connection } from '../temporal/clientSdk';
import { resolveTemporalTarget, unreachableMessage } from '../shared/temporalConnection';

/** Open a client for the configured Temporal cluster; the caller closes the connection. */
export async function connectClient(): Promise<{ client: Client; connection: Connection; address: string }> {
  const target = resolveTemporalTarget();
  const connection = await Connection.connect(target.connectionOptions).catch((err: unknown) => {
    throw new Error(unreachableMessage(target, err));
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
