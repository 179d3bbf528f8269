import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type LogEntry } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import type { Phase } from '../../src/shared/phases';
import { deployCluster } from '../../src/workflows';
import {
  restartServersSignal,
  retryFailedUpdate,
  runPhasesUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import { waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { seedPlan } from '../helpers/plans';
import { planFromFile } from '../../src/client/planFile';
import { mockedOptions, startTestServer, withMockedWorker } from '../helpers/temporal';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'inventories');

const options = mockedOptions;

describe('deployCluster with mocked activities', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();
  const hosts = plan.hosts.map((h) => h.name);

  /** What the worker logged (workflow `log` calls included), still printed to stderr. */
  const logged: LogEntry[] = [];

  before(async () => {
    Runtime.install({
      logger: new DefaultLogger('WARN', (entry) => {
        logged.push(entry);
        console.error(`[${entry.level}] ${entry.message}`);
      }),
    });
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  /** The cluster workflow on the test's task queue, under a fresh `cluster/<uuid>` ID. */
  function startDeploy(taskQueue: string, phases: Phase[], deployed = plan) {
    return env.client.workflow.start(deployCluster, {
      taskQueue,
      workflowId: `cluster/${randomUUID()}`,
      args: [{ plan: deployed, options: options(taskQueue, phases) }],
    });
  }

  const withWorker = <T>(fake: FakeHosts, fn: (taskQueue: string) => Promise<T>) =>
    withMockedWorker(env, fake.activities(), 'test', fn);

  it('runs the phases on every host, reaches ready, and cleans every host up on cancel', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['preflight', 'run_docker', 'sync_code']);
      const status = await waitForStatus(handle, (s) => s.stage === 'ready');
      for (const h of hosts) {
        assert.equal(status.table[h]?.preflight?.state, 'ok', `${h} preflight`);
        assert.equal(status.table[h]?.run_docker?.state, 'ok', `${h} run_docker`);
      }
      // c0 shares p0's machine: the code lands there once.
      assert.equal(status.table.c0?.sync_code?.state, 'skipped');
      assert.equal(fake.count('syncCode'), hosts.length - 1);
      assert.equal(fake.count('ensureContainer'), hosts.length);

      await handle.cancel();
      await assert.rejects(handle.result(), (e: unknown) => e instanceof WorkflowFailedError);
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      for (const h of hosts) assert.equal(fake.count('cleanupHost', h), 1, `cleanup of ${h}`);
    });
  });

  it('waits for the operator when a host fails, then retryFailed re-runs only that host', async () => {
    const fake = new FakeHosts();
    fake.failing.set('d1', 'HostKeyMismatchError');
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['run_docker', 'sync_code']);
      const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator');
      assert.equal(waiting.currentPhase, 'run_docker');
      assert.deepEqual(
        waiting.failures.map((f) => [f.host, f.type, f.nonRetryable]),
        [['d1', 'HostKeyMismatchError', true]],
      );
      assert.equal(waiting.table.p0?.run_docker?.state, 'running'); // done, waiting at the barrier
      assert.equal(fake.count('syncCode'), 0, 'the next phase waits for the barrier');
      assert.equal(fake.count('ensureContainer', 'd1'), 1, 'non-retryable: tried once');

      fake.failing.clear();
      const outcome = await handle.executeUpdate(retryFailedUpdate);
      assert.deepEqual(outcome, { phase: 'run_docker', ok: true, failures: [] });
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.equal(fake.count('ensureContainer', 'd1'), 2);
      for (const h of hosts.filter((h) => h !== 'd1')) assert.equal(fake.count('ensureContainer', h), 1, h);
      await handle.terminate();
    });
  });

  it('refuses retryFailed when nothing failed', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['preflight']);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      await assert.rejects(handle.executeUpdate(retryFailedUpdate), (e: Error) => {
        assert.match(
          String((e.cause as Error | undefined)?.message),
          /nothing to retry: the cluster is ready/,
        );
        return true;
      });
      await handle.terminate();
    });
  });

  it('runs more phases on the running workflow through the runPhases update', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['run_docker']);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      const outcome = await handle.executeUpdate(runPhasesUpdate, { args: [{ phases: ['run_docker'] }] });
      assert.equal(outcome.ok, true);
      assert.equal(
        fake.count('ensureContainer'),
        hosts.length * 2,
        'a requested phase runs again on every host',
      );
      const status = await handle.query(statusQuery);
      assert.equal(status.stage, 'ready');
      await handle.terminate();
    });
  });

  it('the restartServers signal restarts the decode instance, in order, and leaves prefill alone', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['run_server']);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      // Prefill instances start together, in either order, once decode is ready.
      const launched = fake.calls('launchEngines').map((c) => c.host);
      assert.deepEqual(
        [...launched.slice(0, 2), ...launched.slice(2).sort()],
        ['d0', 'd1', 'p0', 'p1'],
        'decode master, then its member, then prefill',
      );
      const runId = (await handle.describe()).runId;
      // `--host d1` names one decode host: its whole data-parallel group restarts.
      await handle.signal(restartServersSignal, { hosts: ['d1'] });
      const restarted = () => fake.calls('launchEngines').filter((c) => c.force);
      await waitForStatus(handle, () => restarted().length === 2 && fake.count('ensureProxy') === 1);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.deepEqual(
        restarted().map((c) => c.host),
        ['d0', 'd1'],
      );
      assert.equal(restarted().filter((c) => c.host === 'p0').length, 0);
      assert.equal((await handle.describe()).runId, runId, 'same run');
      await handle.terminate();
    });
  });

  // Prefill instance 0 spans p0 (Ray head) and p1; instance 1 is p2; decode is d0.
  for (const [failing, what, readyToo] of [
    ['awaitEnginesReady:p0', "the head's readiness", []],
    // The failed wave stopped the phase before any readiness check: p2's comes now, once.
    ['launchEngines:p1', "the member's launch", ['awaitEnginesReady p2']],
  ] as const) {
    it(`retryFailed after ${what} failed relaunches that whole instance, head first; others stay`, async () => {
      const multi = planFromFile(path.join(FIXTURES, 'multinode-prefill.yml'));
      const fake = new FakeHosts();
      fake.failing.set(failing, 'EngineDied');
      await withWorker(fake, async (taskQueue) => {
        const handle = await startDeploy(taskQueue, ['run_server'], multi);
        const waiting = await waitForStatus(handle, (s) => s.stage === 'waiting-for-operator');
        assert.deepEqual(
          waiting.failures.map((f) => f.host),
          [failing.split(':')[1]],
        );
        fake.failing.clear();
        fake.clear();
        const outcome = await handle.executeUpdate(retryFailedUpdate);
        assert.equal(outcome.ok, true, JSON.stringify(outcome.failures));
        await waitForStatus(handle, (s) => s.stage === 'ready');
        assert.deepEqual(
          fake.log((c) => c.host !== 'd0' && c.activity !== 'awaitEnginesReady'),
          ['launchEngines p0 (restart)', 'launchEngines p1 (restart)'],
          'the instance is launched again, head first; p2 is not',
        );
        assert.deepEqual(
          fake.log((c) => c.host !== 'd0' && c.activity === 'awaitEnginesReady').sort(),
          ['awaitEnginesReady p0', 'awaitEnginesReady p1', ...readyToo],
          'then awaited again',
        );
        await handle.terminate();
      });
    });
  }

  it('runPhases with the inventory as it is now applies the new plan; other hosts are refused', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['run_docker']);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      const edited = seedPlan('2P1D', { DOCKER_IMAGE_ID: 'registry.local/omniinfer:next' });
      const outcome = await handle.executeUpdate(runPhasesUpdate, {
        args: [{ phases: ['run_docker'], plan: edited }],
      });
      assert.equal(outcome.ok, true);
      const engineImages = fake
        .calls('ensureContainer')
        .map((c) => c.image!)
        .filter((i) => i.startsWith('registry.local/omniinfer'));
      assert.deepEqual(
        [...new Set(engineImages.slice(engineImages.length - 4))],
        ['registry.local/omniinfer:next'],
        'the second run used the edited image',
      );
      const otherHosts = seedPlan('4P1D', { cluster_name: plan.cluster });
      await assert.rejects(
        handle.executeUpdate(runPhasesUpdate, { args: [{ phases: ['run_docker'], plan: otherHosts }] }),
        (e: Error) =>
          /hosts changed \(added: p2, p3, d2, d3; removed: none\)/.test(String((e.cause as Error)?.message)),
      );
      await handle.terminate();
    });
  });

  it('continues as new between phases when the history grows, carrying the state', async () => {
    const fake = new FakeHosts();
    await withWorker(fake, async (taskQueue) => {
      const workflowId = `cluster/${randomUUID()}`;
      const handle = await env.client.workflow.start(deployCluster, {
        taskQueue,
        workflowId,
        args: [
          {
            plan,
            options: options(taskQueue, ['preflight', 'run_docker', 'sync_code'], { maxHistoryEvents: 20 }),
          },
        ],
      });
      const status = await waitForStatus(
        env.client.workflow.getHandle(workflowId),
        (s) => s.stage === 'ready',
      );
      assert.ok(status.generation >= 2, `generation ${status.generation}`);
      for (const h of hosts)
        assert.equal(status.table[h]?.preflight?.state, 'ok', `${h} preflight carried over`);
      assert.equal(fake.count('preflight'), hosts.length, 'no phase ran twice across runs');
      assert.equal(fake.count('ensureContainer'), hosts.length);
      assert.notEqual(
        (await env.client.workflow.getHandle(workflowId).describe()).runId,
        handle.firstExecutionRunId,
      );
      await env.client.workflow.getHandle(workflowId).terminate();
    });
  });

  it('cancelled in the middle of a phase: cleanup still runs on every host', async () => {
    const fake = new FakeHosts();
    fake.delayMs = 1500;
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['run_docker', 'sync_code']);
      await waitForStatus(handle, (s) => s.table.p0?.run_docker?.state === 'running');
      await handle.cancel();
      await assert.rejects(handle.result());
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      for (const h of hosts) assert.equal(fake.count('cleanupHost', h), 1, `cleanup of ${h}`);
      assert.equal(fake.count('syncCode'), 0);
    });
  });

  it('cancelled, with a host that cannot be cleaned: still ends cancelled; status and log name it', async () => {
    const fake = new FakeHosts();
    fake.failing.set('cleanupHost:d1', 'ConnectionError');
    await withWorker(fake, async (taskQueue) => {
      const handle = await startDeploy(taskQueue, ['preflight']);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      await handle.cancel();
      await assert.rejects(handle.result());
      assert.equal((await handle.describe()).status.name, 'CANCELLED');
      const status = await handle.query(statusQuery);
      assert.equal(status.stage, 'cleaned');
      assert.deepEqual(
        status.failures.map((f) => [f.host, f.phase, f.type, f.message]),
        [['d1', 'clean_up', 'ConnectionError', 'd1 is broken']],
      );
      for (const h of hosts) {
        assert.equal(status.table[h]?.clean_up?.state, h === 'd1' ? 'failed' : 'ok', `clean_up of ${h}`);
      }
      const line = logged.find((e) => e.meta?.workflowId === handle.workflowId && e.level === 'ERROR');
      assert.match(
        line?.message ?? 'nothing logged',
        /^cleanup after cancellation failed on d1: d1: ConnectionError: d1 is broken$/,
      );
    });
  });
});
