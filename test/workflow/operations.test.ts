import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError, WorkflowUpdateFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { stepAttempts } from '../../src/client/stepAttempts';
import { deployCluster } from '../../src/workflows';
import { retryFailedUpdate, runPhasesUpdate, statusQuery } from '../../src/workflows/cluster/messages';
import { runDeploy } from '../helpers/cli';
import { waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { SEED_EXTRA_VARS, SEED_INVENTORY, seedPlan } from '../helpers/plans';
import { mockedOptions, startTestServer, withMockedWorker } from '../helpers/temporal';
import { waitFor } from '../helpers/waitFor';

/**
 * Honest operations: what the cluster workflow does with requests while it is busy, what it
 * refuses, and what an operator sees of a step that is being retried.
 */
describe('cluster operations: queueing, refusals, retries in view', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();
  const hosts = plan.hosts.map((h) => h.name);

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  const options = mockedOptions;

  const withWorker = <T>(fake: FakeHosts, fn: (taskQueue: string) => Promise<T>) =>
    withMockedWorker(env, fake.activities(), 'ops', fn);

  it('refuses an invalid input on its own: the run fails with InvalidInput naming the fields', async () => {
    await withWorker(new FakeHosts(), async (taskQueue) => {
      const bad = options(taskQueue, ['preflight'], { parallelism: 0 });
      bad.activity.retry.maximumAttempts = Number('x');
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${randomUUID()}`,
        args: [{ plan, options: bad }],
      });
      await assert.rejects(handle.result(), (e: unknown) => {
        assert.ok(e instanceof WorkflowFailedError);
        const cause = e.cause as ApplicationFailure;
        assert.equal(cause.type, 'InvalidInput');
        assert.match(cause.message, /options\.parallelism must be a whole number ≥ 1, got 0/);
        assert.match(cause.message, /maximumAttempts must be a whole number ≥ 1, got null/); // NaN travels as JSON null
        return true;
      });
    });
  });

  it('a phase request during the deploy is queued, shown, and runs once after it; never answered early', async () => {
    const fake = new FakeHosts();
    fake.delayMs = 800;
    fake.failing.set('ensureContainer:d1', 'ImageMissing');
    await withWorker(fake, async (taskQueue) => {
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${randomUUID()}`,
        args: [{ plan, options: options(taskQueue, ['run_docker']) }],
      });
      await waitForStatus(handle, (s) => s.currentPhase === 'run_docker');
      const update = await handle.startUpdate(runPhasesUpdate, {
        args: [{ phases: ['preflight'] }],
        waitForStage: 'ACCEPTED',
      });
      const queued = await handle.query(statusQuery);
      assert.deepEqual(
        queued.queued?.map((q) => q.what),
        ['preflight'],
        'the status shows what waits',
      );

      // The deploy runs into a failure while the request waits: the request is not answered
      // (it has not run), and a new request is refused with the reason.
      const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator');
      assert.deepEqual(
        waiting.queued?.map((q) => q.what),
        ['preflight'],
      );
      const early = await Promise.race([
        update.result().then(() => 'answered'),
        new Promise((r) => setTimeout(() => r('pending'), 1500)),
      ]);
      assert.equal(early, 'pending');
      await assert.rejects(
        handle.executeUpdate(runPhasesUpdate, { args: [{ phases: ['verify'] }] }),
        (e: unknown) => {
          assert.ok(e instanceof WorkflowUpdateFailedError);
          assert.match(
            String((e.cause as Error).message),
            /waits for the operator: run_docker failed on d1; `deploy retry` after fixing the cause, or `deploy down`/,
          );
          return true;
        },
      );

      fake.failing.clear();
      await handle.executeUpdate(retryFailedUpdate);
      const outcome = await update.result();
      assert.deepEqual(outcome, { phases: ['preflight'], ok: true, failures: [] });
      assert.equal(fake.count('preflight'), hosts.length, 'the request ran once');
      const after = await handle.query(statusQuery);
      assert.equal(after.stage, 'ready');
      assert.deepEqual(after.queued, []);
      assert.equal(after.operation, undefined);
      await handle.terminate();
    });
  });

  it('`deploy start --tags` on a busy cluster says what it is queued behind, or why it is refused', async () => {
    const fake = new FakeHosts();
    fake.failing.set('ensureContainer:d1', 'ImageMissing');
    // d1's first run_docker holds the deploy in its phase until the test lets it fail.
    const letD1Fail = fake.hold((c) => c.activity === 'ensureContainer' && c.host === 'd1');
    await withWorker(fake, async (taskQueue) => {
      // The CLI's own start names the workflow after the inventory's cluster.
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${plan.cluster}`,
        args: [{ plan, options: options(taskQueue, ['run_docker']) }],
      });
      await waitForStatus(handle, (s) => s.currentPhase === 'run_docker');
      const cli = { TEMPORAL_ADDRESS: env.address, NO_COLOR: '1' };
      const args = ['start', '-i', SEED_INVENTORY, ...SEED_EXTRA_VARS.flatMap((kv) => ['-e', kv])];
      const queued = await runDeploy([...args, '--tags', 'preflight', '--detach'], cli);
      assert.equal(queued.code, 0, queued.stderr);
      assert.match(
        queued.stdout,
        new RegExp(
          `cluster ${plan.cluster} is busy \\(deploying: run_docker\\); preflight with this inventory is queued behind it`,
        ),
      );

      letD1Fail();
      await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator');
      const refused = await runDeploy([...args, '--tags', 'verify'], cli);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /the cluster waits for the operator: run_docker failed on d1/);

      fake.failing.clear();
      await handle.executeUpdate(retryFailedUpdate);
      await waitForStatus(handle, (s) => s.stage === 'ready' && (s.queued ?? []).length === 0);
      const ran = await runDeploy([...args, '--tags', 'preflight'], cli);
      assert.equal(ran.code, 0, ran.stderr);
      assert.match(ran.stdout, new RegExp(`cluster ${plan.cluster} is ready; running preflight on it`));
      assert.match(ran.stdout, /preflight: done/);
      await handle.terminate();
    });
  });

  it('a failed clean_up phase waits for the operator; deploy retry finishes it', async () => {
    const fake = new FakeHosts();
    fake.failing.set('cleanupHost:d0', 'CommandFailedError');
    await withWorker(fake, async (taskQueue) => {
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${randomUUID()}`,
        args: [{ plan, options: options(taskQueue, ['preflight', 'clean_up']) }],
      });
      const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator');
      assert.equal(waiting.currentPhase, 'clean_up');
      assert.deepEqual(
        waiting.failures.map((f) => [f.host, f.type]),
        [['d0', 'CommandFailedError']],
      );
      fake.failing.clear();
      const outcome = await handle.executeUpdate(retryFailedUpdate);
      assert.deepEqual(outcome, { phase: 'clean_up', ok: true, failures: [] });
      await waitForStatus(handle, (s) => s.stage === 'cleaned');
      assert.ok(fake.hosts('cleanupHost').includes('d0'));
      await handle.result();
    });
  });

  it('while a step retries, status (table and --json) shows the host, attempt and last error', async () => {
    const fake = new FakeHosts();
    fake.host('p1').reachable = false;
    await withWorker(fake, async (taskQueue) => {
      const cluster = randomUUID();
      const opts = options(taskQueue, ['run_docker']);
      // Attempts 2 s apart: long enough to be caught retrying, short enough to recover quickly.
      opts.activity.retry = {
        ...opts.activity.retry,
        initialInterval: '2s',
        backoffCoefficient: 1,
        maximumAttempts: 50,
      };
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId: `cluster/${cluster}`,
        args: [{ plan, options: opts }],
      });
      const seen = await waitFor(
        async () => {
          const s = stepAttempts(await handle.describe());
          return s.length > 0 && s;
        },
        { timeout: 10_000, what: 'a step to be retrying' },
      );
      assert.equal(seen.length, 1, 'one step is retrying');
      assert.deepEqual(
        {
          host: seen[0]!.host,
          phase: seen[0]!.phase,
          attempt: seen[0]!.attempt,
          max: seen[0]!.maximumAttempts,
        },
        { host: 'p1', phase: 'run_docker', attempt: 2, max: 50 },
      );
      assert.equal(seen[0]!.lastError?.type, 'ConnectionError');

      const cli = { TEMPORAL_ADDRESS: env.address, NO_COLOR: '1' };
      const json = await runDeploy(['status', cluster, '--json'], cli);
      assert.equal(json.code, 0, json.stderr);
      const status = JSON.parse(json.stdout) as {
        retrying: { host: string; attempt: number; lastError: { message: string } }[];
      };
      assert.equal(status.retrying[0]?.host, 'p1');
      assert.match(status.retrying[0]!.lastError.message, /SSH handshake timed out/);
      const table = await runDeploy(['status', cluster], cli);
      assert.match(
        table.stdout,
        /retrying p1 · run_docker: attempt \d+ of 50 — last: ConnectionError: cannot reach p1 \(127\.0\.0\.2\) over SSH: SSH handshake timed out/,
      );

      fake.host('p1').reachable = true;
      await waitForStatus(handle, (s) => s.stage === 'ready', 60_000);
      assert.deepEqual(stepAttempts(await handle.describe()), [], 'nothing retries once it succeeded');
      await handle.terminate();
    });
  });
});
