import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { OperatorWait } from '../../src/workflows/cluster/operatorWait';

/**
 * A stand-in for the workflow's `condition()`: waiters whose predicate holds are woken when
 * `settle()` runs, as the SDK wakes them at the end of an activation.
 */
function conditions() {
  const waiting: { fn: () => boolean; resolve: () => void }[] = [];
  const until = (fn: () => boolean) => new Promise<void>((resolve) => waiting.push({ fn, resolve }));
  const settle = async () => {
    for (let woken = true; woken;) {
      await new Promise((r) => setImmediate(r));
      woken = false;
      for (const w of [...waiting]) {
        if (w.fn()) {
          waiting.splice(waiting.indexOf(w), 1);
          w.resolve();
          woken = true;
        }
      }
    }
  };
  return {
    until,
    settle,
    get waiting() {
      return waiting.length;
    },
  };
}

describe('OperatorWait', () => {
  it('a retry wakes the waiting phase, and its caller once the phase took it', async () => {
    const c = conditions();
    const operator = new OperatorWait(c.until);
    let answer: string | undefined;
    void operator.wait().then((a) => (answer = a));
    await c.settle();
    assert.equal(answer, undefined, 'nothing answered yet');
    let retried = false;
    void operator.retry().then(() => (retried = true));
    await c.settle();
    assert.equal(answer, 'retry');
    assert.equal(retried, true);
    assert.equal(c.waiting, 0);
  });

  it('a retry given before the phase waits is taken when it does', async () => {
    const c = conditions();
    const operator = new OperatorWait(c.until);
    let retried = false;
    void operator.retry().then(() => (retried = true));
    await c.settle();
    assert.equal(retried, false);
    assert.equal(await Promise.all([operator.wait(), c.settle()]).then(([a]) => a), 'retry');
    await c.settle();
    assert.equal(retried, true);
  });

  it('an abandon is answered with the outcome of the revert, not before', async () => {
    const c = conditions();
    const operator = new OperatorWait(c.until);
    let answer: string | undefined;
    void operator.wait().then((a) => (answer = a));
    let outcome: unknown;
    void operator.abandon().then((o) => (outcome = o));
    await c.settle();
    assert.equal(answer, 'abandon');
    assert.equal(outcome, undefined, 'the revert has not finished');
    const reverted = { ok: true, changed: true, failures: [] };
    operator.reportReverted(reverted);
    await c.settle();
    assert.deepEqual(outcome, reverted);
    // Taken: the next rollback waits for its own revert.
    let second: unknown;
    void operator.abandon().then((o) => (second = o));
    await c.settle();
    assert.equal(second, undefined);
  });

  it('each answer wakes one wait', async () => {
    const c = conditions();
    const operator = new OperatorWait(c.until);
    const answers: string[] = [];
    void operator.wait().then((a) => answers.push(a));
    void operator.retry();
    await c.settle();
    void operator.wait().then((a) => answers.push(a));
    await c.settle();
    assert.deepEqual(answers, ['retry']);
  });
});
