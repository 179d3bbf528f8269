import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { hasRoom, nextJob, type Schedulable } from '../runnerSchedule';

const job = (name: string, opts: Partial<Schedulable> = {}) => ({ name, alone: false, lanes: 1, ...opts });
type J = ReturnType<typeof job>;

/** Fills lanes as test/runner.ts does and returns the names started, in order. */
function start(waiting: J[], running: J[], lanes: number): string[] {
  const w = [...waiting];
  const r = [...running];
  const started: string[] = [];
  for (let i = nextJob(w, r, lanes); i >= 0; i = nextJob(w, r, lanes)) {
    const [j] = w.splice(i, 1);
    r.push(j!);
    started.push(j!.name);
  }
  return started;
}

/** The test runner's pool (test/runnerSchedule.ts): lanes, groups and files that run alone. */
describe('test runner schedule', () => {
  it('fills the lanes longest first', () => {
    assert.deepEqual(start([job('a'), job('b'), job('c'), job('d')], [], 3), ['a', 'b', 'c']);
  });

  it('a two-lane file leaves room for one more, and is passed over when it does not fit', () => {
    assert.deepEqual(start([job('big', { lanes: 2 }), job('a'), job('b')], [], 3), ['big', 'a']);
    assert.deepEqual(start([job('big', { lanes: 2 }), job('b')], [job('a'), job('c')], 3), ['b']);
    assert.deepEqual(start([job('big', { lanes: 2 }), job('b')], [job('a')], 3), ['big']);
  });

  it('never runs two files of one group at once', () => {
    const demo = { group: 'demo' };
    assert.deepEqual(start([job('d1', demo), job('d2', demo), job('x')], [], 3), ['d1', 'x']);
    assert.deepEqual(start([job('d2', demo)], [job('d1', demo)], 3), []);
  });

  it('an alone file starts only when nothing runs, and nothing starts beside it', () => {
    assert.deepEqual(start([job('solo', { alone: true }), job('a'), job('b')], [job('x')], 3), ['a', 'b']);
    assert.deepEqual(start([job('solo', { alone: true }), job('a')], [], 3), ['solo']);
    assert.deepEqual(start([job('a')], [job('solo', { alone: true })], 3), []);
  });

  it('a file wider than the lanes still runs, by itself', () => {
    assert.deepEqual(start([job('big', { lanes: 2 }), job('a')], [], 1), ['big']);
  });
});

describe('test runner admission by machine load', () => {
  const room = (busyCores: number, msSinceStart = 60_000, lastExpectedMs = 120_000) => ({
    busyCores,
    cores: 2,
    msSinceStart,
    lastExpectedMs,
  });

  it('starts the first file whatever the load, and any file where the load cannot be read', () => {
    assert.equal(hasRoom(0, room(2)), true);
    assert.equal(hasRoom(3, undefined), true);
  });

  it('starts another file only while the machine has room for it', () => {
    assert.equal(hasRoom(2, room(1.2)), true);
    assert.equal(hasRoom(2, room(1.5)), false);
    assert.equal(hasRoom(2, room(2)), false);
  });

  it('waits for the last start to settle before it judges the load', () => {
    assert.equal(hasRoom(1, room(0.2, 3_000)), false);
    assert.equal(hasRoom(1, room(0.2, 10_000)), true);
  });

  it('a short file holds the next one for a quarter of its expected time, not the whole settle', () => {
    assert.equal(hasRoom(1, room(0.2, 600, 2_000)), true);
    assert.equal(hasRoom(1, room(0.2, 400, 2_000)), false);
    assert.equal(hasRoom(1, room(0.2, 9_000, 300_000)), false);
  });
});
