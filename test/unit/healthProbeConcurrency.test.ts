import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { MockActivityEnvironment } from '@temporalio/testing';
import { PROBE_CONCURRENCY, watchHealth } from '../../src/activities/health';
import type { ActivityDeps } from '../../src/activities/deps';
import type { ProbeHost, WatchHealthResult } from '../../src/activities/types';
import type { Remote } from '../../src/remote';

/**
 * The health watch on a large cluster: the SSH pool runs at most 64 channels at once, so a probe
 * that waits for a channel must not spend its host's budget waiting (at 128 hosts every host
 * past the 64th was reported down).
 */
describe('health watch probes', () => {
  it('time each host from its own start, not from the round’s', async () => {
    const POOL = 64;
    const ANSWER_MS = 150;
    let inFlight = 0;
    let most = 0;
    const waiting: (() => void)[] = [];
    // A pool of 64 channels: an exec past them waits for one, then the host answers in 150 ms.
    const exec = async (_host: unknown, _argv: string[], opts: { signal?: AbortSignal }) => {
      if (inFlight >= POOL) await new Promise<void>((r) => waiting.push(r));
      inFlight++;
      most = Math.max(most, inFlight);
      try {
        await new Promise((r) => setTimeout(r, ANSWER_MS));
        if (opts.signal?.aborted) throw new Error('aborted');
        return { code: 0, stdout: 'container running\n', stderr: '' };
      } finally {
        inFlight--;
        waiting.shift()?.();
      }
    };
    const deps = { remote: { exec } as unknown as Remote } as ActivityDeps;
    const hosts: ProbeHost[] = Array.from({ length: 129 }, (_, i) => ({
      target: {
        name: `h${i}`,
        address: `10.0.${i >> 8}.${i & 255}`,
        port: 22,
        user: 'root',
      } as ProbeHost['target'],
      cli: 'docker',
      container: 'c',
      address: `10.0.0.${i}`,
      servers: [],
    }));
    const r: WatchHealthResult = await new MockActivityEnvironment().run(watchHealth, deps, {
      cluster: 'big',
      hosts,
      known: '',
      intervalMs: 1000,
      probeTimeoutMs: 250,
      maxWatchMs: 1000,
    });
    const down = r.observations.filter((o) => !o.reachable).map((o) => o.host);
    assert.deepEqual(down, [], `reported down: ${down.join(', ')}`);
    assert.ok(most <= PROBE_CONCURRENCY, `${most} probes at once`);
    assert.ok(PROBE_CONCURRENCY < POOL);
  });
});
