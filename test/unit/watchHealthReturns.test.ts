import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { ActivityCancellationDetails } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { WATCH_RETURN_MS, watchHealth } from '../../src/activities/health';
import type { ActivityDeps } from '../../src/activities/deps';
import type { ProbeHost, WatchHealthInput, WatchHealthResult } from '../../src/activities/types';
import type { Remote } from '../../src/remote';

/**
 * The health watch hands the cluster workflow a task whenever its worker goes away: a watch
 * cancelled by its worker's shutdown, or one that is a retry (its worker was lost), returns with
 * what it saw instead of failing or watching on, so an idle cluster reaches an idle point on the
 * new worker (where it moves to new workflow code).
 */
const hosts: ProbeHost[] = [
  {
    target: { name: 'h0', address: '10.0.0.1', port: 22, user: 'root' } as ProbeHost['target'],
    cli: 'docker',
    container: 'c',
    address: '10.0.0.1',
    servers: [{ port: 9000, dpRank: 0 }],
  },
];
const exec = async () => ({ code: 0, stdout: 'container running\nserver 9000 200\n', stderr: '' });
const deps = { remote: { exec } as unknown as Remote } as ActivityDeps;

/** A quiet cluster: the workflow already knows what the watch sees, so it would watch on. */
async function known(): Promise<string> {
  const r: WatchHealthResult = await new MockActivityEnvironment().run(watchHealth, deps, input(''));
  return r.signature;
}

function input(knownSignature: string): WatchHealthInput {
  return {
    cluster: 'c1',
    hosts,
    known: knownSignature,
    intervalMs: 50,
    probeTimeoutMs: 1000,
    maxWatchMs: 3_600_000,
  };
}

describe('watchHealth returns promptly', () => {
  it('on a retry attempt: one round, then returns', async () => {
    const signature = await known();
    const started = Date.now();
    const r: WatchHealthResult = await new MockActivityEnvironment({ attempt: 2 }).run(
      watchHealth,
      deps,
      input(signature),
    );
    assert.equal(r.reason, 'retry');
    assert.equal(r.rounds, 1);
    assert.equal(r.changed, false);
    assert.equal(r.observations.length, 1);
    assert.ok(Date.now() - started < 5000);
  });

  it('when its worker shuts down: returns what it saw last', async () => {
    const signature = await known();
    const env = new MockActivityEnvironment();
    const watching = env.run(watchHealth, deps, input(signature));
    await new Promise((r) => setTimeout(r, 300));
    env.cancel('WORKER_SHUTDOWN', new ActivityCancellationDetails({ workerShutdown: true }));
    const r = (await watching) as WatchHealthResult;
    assert.equal(r.reason, 'worker-shutdown');
    assert.ok(r.rounds >= 1);
    assert.equal(r.signature, signature);
  });

  it('cancelled by its workflow: still a cancellation', async () => {
    const signature = await known();
    const env = new MockActivityEnvironment();
    const watching = env.run(watchHealth, deps, input(signature));
    await new Promise((r) => setTimeout(r, 200));
    env.cancel('CANCELLED', new ActivityCancellationDetails({ cancelRequested: true }));
    await assert.rejects(watching);
  });

  it('returns at least every WATCH_RETURN_MS', () => {
    assert.ok(WATCH_RETURN_MS <= 10 * 60_000);
  });
});
