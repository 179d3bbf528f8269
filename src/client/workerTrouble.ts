/**
 * A running cluster workflow answers queries only through a worker: with none polling its task
 * queue (stopped, crashed, being replaced) the server refuses the query at once
 * (FAILED_PRECONDITION "no poller seen for task queue recently") or lets it time out. That is not
 * the operation failing — it goes on as soon as a worker polls again — so the CLI that follows an
 * operation says so and keeps following instead of exiting.
 */
export function queryTrouble(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  if (/no poller seen|worker may be down/i.test(message)) {
    return 'no worker is polling the task queue — start one with `deploy worker`; following on (Ctrl-C detaches, the operation goes on)';
  }
  const firstLine = message.split('\n')[0]!.slice(0, 160);
  return `the cluster workflow does not answer (${firstLine}) — is a worker running (\`deploy worker\`)? following on (Ctrl-C detaches)`;
}
