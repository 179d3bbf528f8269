import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { selectPhases } from '../../src/shared/phases';
import { DEPLOY_BIN } from '../helpers/cli';
import { waitForStatus } from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * The attached CLI follows its operation, not its worker: `deploy start -i FILE` applying an
 * edited inventory to a running sim-2P1D (sim instance 55) keeps following while the only worker
 * is stopped mid-rollout, says that no worker polls, and exits 0 once a new worker has finished
 * the rollout. (It used to exit 1 with the query's FAILED_PRECONDITION.)
 */
const INSTANCE = 55;

describe('the attached CLI outlives its worker', { timeout: 420_000 }, () => {
  // The only worker is a `deploy worker` process (the test stops it); a deployed cluster to roll out.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { workers: 'process', deploy: { phases: selectPhases() } });

  it('a rollout whose worker stops: the CLI says no worker polls, keeps following, exits 0', async () => {
    const { plan, handle } = sim;
    const first = sim.worker;

    const args = plan.settings.prefill_extra_args.join(' ').replace('--max-num-seqs 16', '--max-num-seqs 8');
    assert.notEqual(args, plan.settings.prefill_extra_args.join(' '));
    const cli = spawn(
      DEPLOY_BIN,
      ['start', '-i', sim.cluster.inventoryFile, '-e', `prefill_extra_args=${args}`],
      {
        env: { ...process.env, TEMPORAL_ADDRESS: sim.address, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    cli.stdout.on('data', (d) => (out += d));
    cli.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
    try {
      await waitForStatus(handle, (s) => s.stage === 'rolling-out', 60_000, 'the rollout');
      // As an operator replacing the worker does: `deploy worker --stop` (SIGTERM, graceful).
      await first.stop();
      const deadline = Date.now() + 120_000;
      while (!/no worker is polling|does not answer/.test(out)) {
        assert.equal(cli.exitCode, null, `the CLI gave up while no worker polled:\n${out}`);
        assert.ok(Date.now() < deadline, `no notice within 120 s:\n${out}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(out, /start one with `deploy worker`|is a worker running/);
      console.log(
        `the CLI said: ${out.split('\n').find((l) => /no worker is polling|does not answer/.test(l))}`,
      );
      assert.equal(cli.exitCode, null, 'still following');

      await sim.startWorker();
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the CLI did not finish:\n${out}`)), 240_000);
        }),
      ]).finally(() => clearTimeout(timer));
      assert.equal(code, 0, out);
      assert.match(out, /rollout: done/);
      assert.doesNotMatch(out, /FAILED_PRECONDITION/);
    } finally {
      if (cli.exitCode === null) cli.kill('SIGKILL');
    }
  });
});
