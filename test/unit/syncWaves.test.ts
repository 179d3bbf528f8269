import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  afterWave,
  fanOutWaves,
  nextWave,
  type Copy,
  type FanOutSettings,
  type WaveState,
} from '../../src/plan/syncWaves';

const hosts = (n: number) => Array.from({ length: n }, (_, i) => `h${i}`);
const sender = (c: Copy) => (c.from.kind === 'executor' ? 'executor' : c.from.host);

/** Checks a full schedule: each host once, only from a holder, within the slots. */
function assertSchedule(all: string[], waves: Copy[][], s: FanOutSettings): void {
  const have = new Set<string>();
  const got: string[] = [];
  for (const wave of waves) {
    const perSender = new Map<string, number>();
    for (const c of wave) {
      const from = sender(c);
      if (from !== 'executor') assert.ok(have.has(from), `${from} sends before it has the tree`);
      perSender.set(from, (perSender.get(from) ?? 0) + 1);
      got.push(c.to);
    }
    for (const [from, n] of perSender) {
      assert.ok(n <= (from === 'executor' ? s.executorSlots : s.relaySlots), `${from} sends ${n} at once`);
    }
    for (const c of wave) have.add(c.to);
  }
  assert.deepEqual([...got].sort(), [...all].sort(), 'every host exactly once');
}

describe('code sync fan-out schedule', () => {
  for (const n of [1, 2, 8, 32, 128, 512]) {
    it(`${n} hosts: each gets the tree once from a holder, in O(log N) waves`, () => {
      const s = { executorSlots: 2, relaySlots: 2 };
      const waves = fanOutWaves(hosts(n), s);
      assertSchedule(hosts(n), waves, s);
      // Holders grow H → 3H + 2 each wave: ⌈log3(N + 1)⌉ waves.
      assert.equal(waves.length, Math.ceil(Math.log(n + 1) / Math.log(3) - 1e-9));
      const fromExecutor = waves.flat().filter((c) => c.from.kind === 'executor').length;
      assert.ok(fromExecutor <= 2 * waves.length, `executor copies ${fromExecutor}`);
    });
  }

  it('128 hosts: the executor sends 10 copies instead of 128', () => {
    const waves = fanOutWaves(hosts(128));
    assert.equal(waves.length, 5);
    assert.equal(waves.flat().filter((c) => c.from.kind === 'executor').length, 10);
  });

  it('relaySlots 0 is the direct copy: every host from the executor, executorSlots at a time', () => {
    const s = { executorSlots: 4, relaySlots: 0 };
    const waves = fanOutWaves(hosts(10), s);
    assertSchedule(hosts(10), waves, s);
    assert.deepEqual(
      waves.map((w) => w.length),
      [4, 4, 2],
    );
    assert.ok(waves.flat().every((c) => c.from.kind === 'executor'));
  });

  it('a relay that fails to send is never asked again; its targets get a direct copy next wave', () => {
    let state: WaveState & { failed?: string[] } = { pending: hosts(8), holders: [], direct: [] };
    const ok = (w: Copy[]) => w.map((copy) => ({ copy, ok: true }));
    const w1 = nextWave(state);
    assert.deepEqual(
      w1.map((c) => c.to),
      ['h0', 'h1'],
    );
    state = afterWave(state, ok(w1));
    const w2 = nextWave(state);
    const fromH0 = w2.filter((c) => sender(c) === 'h0').map((c) => c.to);
    assert.deepEqual(fromH0, ['h4', 'h5']);
    state = afterWave(
      state,
      w2.map((copy) =>
        sender(copy) === 'h0' ? { copy, ok: false, failedSide: 'sender' as const } : { copy, ok: true },
      ),
    );
    assert.ok(!state.holders.includes('h0'), 'the dead relay is no holder');
    assert.deepEqual(state.direct, ['h4', 'h5']);
    const w3 = nextWave(state);
    for (const h of ['h4', 'h5']) {
      assert.deepEqual(w3.filter((c) => c.to === h).map(sender), ['executor'], `${h} served by the executor`);
    }
    assert.ok(w3.every((c) => sender(c) !== 'h0'));
    state = afterWave(state, ok(w3));
    assert.deepEqual(state.pending, []);
    assert.deepEqual(state.failed, []);
  });

  it('a host that fails to receive from a relay is retried from the executor, once', () => {
    let state: WaveState & { failed?: string[] } = { pending: ['a', 'b', 'c'], holders: ['r'], direct: [] };
    const w = nextWave(state, { executorSlots: 1, relaySlots: 2 });
    assert.deepEqual(
      w.map((c) => `${sender(c)}→${c.to}`),
      ['executor→a', 'r→b', 'r→c'],
    );
    state = afterWave(
      state,
      w.map((copy) =>
        copy.to === 'c' ? { copy, ok: false, failedSide: 'receiver' as const } : { copy, ok: true },
      ),
    );
    assert.deepEqual(state.pending, ['c']);
    assert.deepEqual(state.direct, ['c']);
    assert.ok(state.holders.includes('r'), 'the relay itself is fine');
    const retry = nextWave(state, { executorSlots: 1, relaySlots: 2 });
    assert.deepEqual(
      retry.map((c) => `${sender(c)}→${c.to}`),
      ['executor→c'],
    );
    state = afterWave(state, [{ copy: retry[0]!, ok: false, failedSide: 'receiver' }]);
    assert.deepEqual(state.failed, ['c'], 'a failed direct copy is the host’s failure');
    assert.deepEqual(state.pending, []);
    assert.deepEqual(nextWave(state), []);
  });

  it('refuses settings that cannot make progress', () => {
    assert.throws(() => fanOutWaves(hosts(3), { executorSlots: 0, relaySlots: 2 }), /executorSlots/);
    assert.throws(() => fanOutWaves(hosts(3), { executorSlots: 1.5, relaySlots: 2 }), /executorSlots/);
    assert.throws(() => fanOutWaves(hosts(3), { executorSlots: 1, relaySlots: -1 }), /relaySlots/);
  });
});
