'use strict';
// Run while the client SDK bundle's code cache is made (scripts/cachedBundle.js): what every
// client command does after loading the SDK (a connection, a describe and a query), so the
// functions on that path are in the cache compiled, not only those that run at load. Nothing
// listens at port 1: the calls fail at once, and the deadline ends the SDK's retries.
module.exports = async function warmUp(sdk) {
  const connection = sdk.Connection.lazy({ address: '127.0.0.1:1' });
  const handle = new sdk.Client({ connection }).workflow.getHandle('code-cache-warm-up');
  await connection
    .withDeadline(Date.now() + 500, () => Promise.allSettled([handle.describe(), handle.query('status')]))
    .catch(() => undefined);
  await connection.close();
};
