import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { hostExec, setLink } from '../../sim';
import { stepAttempts, type StepAttempt } from '../../src/client/stepAttempts';
import { renderStatus } from '../../src/client/progress';
import { statusQuery } from '../../src/workflows/cluster/messages';
import { waitForStatus } from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * A cut link while a step runs on the host (sim-2P1D, sim instance 56): d1's cable is pulled while
 * its run_docker waits in `docker run` (30 s, the host's one-shot slow-start knob: a slow image
 * pull, over one SSH channel). The status names the host and how long it has not answered within
 * 20 s of the cut, while the attempt is still open — before the keepalives give the connection
 * up — instead of a silent `running`.
 */
const INSTANCE = 56;

describe('a host that stops answering mid-step is named at once', { timeout: 300_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE);

  it('link cut during run_docker: "no answer from d1 for N s" within 20 s, attempt still open', async () => {
    await hostExec(
      'd1',
      ['sh', '-c', 'mkdir -p /data/omni-sim && echo 30 > /data/omni-sim/docker-run-delay'],
      undefined,
      sim.cluster.ctx,
    );
    const handle = await sim.deploy(['preflight', 'run_docker']);
    await waitForStatus(
      handle,
      (s) => s.currentPhase === 'run_docker' && s.table.d1?.run_docker?.state === 'running',
      180_000,
      "d1's run_docker",
    );
    // Its inspect is quick; the 30 s slow start holds the `docker run` channel open.
    await new Promise((r) => setTimeout(r, 3000));
    // The cable goes back in after() too, whatever happens below.
    sim.onTeardown(() => setLink('d1', true, sim.cluster.ctx).catch(() => undefined));
    await setLink('d1', false, sim.cluster.ctx);
    const cutAt = Date.now();

    let silent: StepAttempt | undefined;
    while (!silent) {
      assert.ok(Date.now() - cutAt < 20_000, 'no "no answer" report within 20 s of the cut');
      silent = stepAttempts(await handle.describe()).find((a) => a.noAnswerForMs !== undefined);
      if (!silent) await new Promise((r) => setTimeout(r, 500));
    }
    const seenAfterMs = Date.now() - cutAt;
    console.log(`"no answer" reported ${seenAfterMs} ms after the cut: ${JSON.stringify(silent)}`);
    assert.equal(silent.host, 'd1');
    assert.equal(silent.phase, 'run_docker');
    assert.equal(silent.attempt, 1, 'the first attempt is still open');
    assert.ok(silent.noAnswerForMs! >= 10_000, `${silent.noAnswerForMs} ms`);
    const view = renderStatus(await handle.query(statusQuery), Date.now(), false, [silent]);
    assert.match(view, /d1 · run_docker: no answer from d1 for \d+ s \(attempt 1 of 3\)/);

    // The cable back: the step goes on (its retry reconnects) and the phase completes.
    await setLink('d1', true, sim.cluster.ctx);
    const done = await waitForStatus(handle, (s) => s.stage !== 'deploying', 180_000, 'the deploy');
    assert.equal(done.stage, 'ready', JSON.stringify(done.failures));
    await handle.terminate('e2e: done');
  });
});
