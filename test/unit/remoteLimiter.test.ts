import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { Limiter } from '../../src/remote/limiter';

describe('Limiter', () => {
  it('never lets more than `limit` run and serves waiters in order', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const release = await limiter.acquire();
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        release();
        release(); // a second release must not free a second slot
      }),
    );
    assert.equal(peak, 2);
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5]);
    assert.equal(limiter.inUse, 0);
  });

  it('an abort while waiting gives up the place in the queue', async () => {
    const limiter = new Limiter(1);
    const release = await limiter.acquire();
    const ac = new AbortController();
    const waiting = limiter.acquire(ac.signal);
    const after = limiter.acquire();
    ac.abort(new Error('cancelled'));
    await assert.rejects(waiting, /cancelled/);
    release();
    (await after)();
    assert.equal(limiter.inUse, 0);
  });
});
