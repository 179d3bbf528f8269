import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities } from '../../src/activities';
import { deployCluster } from '../../src/workflows';
import {
  applyPlanUpdate,
  planQuery,
  retryFailedUpdate,
  rollbackUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';
import { waitForStatus } from '../helpers/deploy';
import { seedPlan } from '../helpers/plans';
import { startTestServer, withMockedWorker } from '../helpers/temporal';

/** What the mocked hosts saw, in order: container replacements, engine launches, proxy reloads. */
class Recorder {
  log: string[] = [];
  failLaunchOn: string | undefined;

  activities(): Partial<Activities> {
    return {
      ensureContainer: async (i) => (
        this.log.push(`container ${i.target.name} ${i.image}`),
        { action: 'replaced', id: `id-${i.name}` }
      ),
      syncCode: async (i) => (
        this.log.push(`code ${i.target.name}`),
        { changed: false, bytesSent: 0, installed: true }
      ),
      endRelaySession: async () => ({ cleaned: 0, unreachable: [] }),
      launchEngines: async (i) => {
        if (i.target.name === this.failLaunchOn) {
          throw ApplicationFailure.create({
            type: 'EngineLaunchFailed',
            message: `${i.target.name} refused`,
            nonRetryable: true,
          });
        }
        this.log.push(`launch ${i.target.name}${i.force ? ' (restart)' : ''}`);
        return { action: i.force ? 'restarted' : 'started', servers: [] };
      },
      awaitEnginesReady: async () => ({ servers: 1, waitedMs: 1 }),
      ensureProxy: async (i) => {
        const drained = [...i.conf.matchAll(/server (\S+) [^;\n]*\bdown\b/g)].map((m) => m[1]);
        this.log.push(
          `proxy drained=[${drained.join(' ')}]${i.awaitDrainMs ? ' (waits for in-flight)' : ''}`,
        );
        return { action: 'reloaded' };
      },
      verifyCompletion: async () => ({ text: 'ok', prefill: 'p', decode: 'd' }),
    };
  }
}

describe('rollouts: a changed Plan applied unit by unit (mocked hosts, real Temporal)', () => {
  let env: TestWorkflowEnvironment;
  const plan = seedPlan();
  const upstream = (host: string) => {
    const h = plan.hosts.find((x) => x.name === host)!;
    return `${h.address}:${h.apiServers[0]!.port}`;
  };

  before(async () => {
    env = await startTestServer();
  });
  after(async () => {
    await env?.teardown();
  });

  async function withCluster(rec: Recorder, fn: (h: Awaited<ReturnType<typeof start>>) => Promise<void>) {
    await withMockedWorker(env, rec.activities(), 'rollout', async (taskQueue) => {
      const handle = await start(taskQueue);
      try {
        await waitForStatus(handle, (s) => s.stage === 'ready');
        rec.log = [];
        await fn(handle);
      } finally {
        await handle.terminate().catch(() => undefined);
      }
    });
  }
  function start(taskQueue: string) {
    const options: DeployOptions = {
      phases: ['run_server'],
      parallelism: 50,
      executorTaskQueue: taskQueue,
      activity: {
        ...DEFAULT_ACTIVITY_TUNING,
        retry: { ...DEFAULT_ACTIVITY_TUNING.retry, initialInterval: '10ms', maximumAttempts: 1 },
      },
      maxHistoryEvents: 10_000,
    };
    return env.client.workflow.start(deployCluster, {
      taskQueue,
      workflowId: `cluster/${randomUUID()}`,
      args: [{ plan, options }],
    });
  }

  it('a prefill-only change restarts prefill instances one at a time, each drained first; decode untouched', async () => {
    const rec = new Recorder();
    await withCluster(rec, async (handle) => {
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 8' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.deepEqual(outcome, { ok: true, changed: true, failures: [] });
      assert.deepEqual(rec.log, [
        'proxy drained=[] (waits for in-flight)',
        `proxy drained=[${upstream('p0')}] (waits for in-flight)`,
        'launch p0 (restart)',
        'proxy drained=[]',
        `proxy drained=[${upstream('p1')}] (waits for in-flight)`,
        'launch p1 (restart)',
        'proxy drained=[]',
        'proxy drained=[]',
      ]);
      assert.deepEqual((await handle.query(planQuery)).settings.prefill_extra_args, ['--max-num-seqs', '8']);
    });
  });

  it('an image change replaces every container, decode last with its outage measured; rollback restores the image', async () => {
    const rec = new Recorder();
    await withCluster(rec, async (handle) => {
      const next = seedPlan('2P1D', { DOCKER_IMAGE_ID: 'registry.local/omniinfer:next' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.equal(outcome.ok, true);
      assert.ok(outcome.decodeOutageMs !== undefined && outcome.decodeOutageMs >= 0);
      const containers = rec.log.filter((l) => l.startsWith('container'));
      // Prefill one instance at a time, then the decode instance's hosts together, the proxy last.
      assert.deepEqual(
        [...containers.slice(0, 2), ...containers.slice(2, 4).sort(), containers[4]],
        [
          'container p0 registry.local/omniinfer:next',
          'container p1 registry.local/omniinfer:next',
          'container d0 registry.local/omniinfer:next',
          'container d1 registry.local/omniinfer:next',
          'container c0 registry.local/omniinfer:next',
        ],
      );
      const launches = rec.log.filter((l) => l.startsWith('launch'));
      assert.deepEqual(launches, [
        'launch p0 (restart)',
        'launch p1 (restart)',
        'launch d0 (restart)',
        'launch d1 (restart)',
      ]);

      rec.log = [];
      const back = await handle.executeUpdate(rollbackUpdate);
      assert.equal(back.ok, true);
      assert.ok(
        rec.log
          .filter((l) => l.startsWith('container'))
          .every((l) => l.endsWith('registry.local/omniinfer:test')),
      );
      assert.equal((await handle.query(planQuery)).settings.DOCKER_IMAGE_ID, 'registry.local/omniinfer:test');
    });
  });

  it('a failure stops the rollout with the rest still serving; retry continues it', async () => {
    const rec = new Recorder();
    await withCluster(rec, async (handle) => {
      rec.failLaunchOn = 'p1';
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 4' });
      const outcome = await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      assert.equal(outcome.ok, false);
      const waiting = await handle.query(statusQuery);
      assert.equal(waiting.stage, 'waiting-for-operator');
      assert.ok(rec.log.includes('launch p0 (restart)'), 'p0 was rolled before p1 failed');
      assert.ok(!rec.log.some((l) => l.startsWith('launch d')), 'decode was not reached');
      rec.failLaunchOn = undefined;
      await handle.executeUpdate(retryFailedUpdate);
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.ok(rec.log.includes('launch p1 (restart)'));
    });
  });

  it('rollback while a rollout waits for the operator undoes it', async () => {
    const rec = new Recorder();
    await withCluster(rec, async (handle) => {
      rec.failLaunchOn = 'p1';
      const next = seedPlan('2P1D', { prefill_extra_args: '--max-num-seqs 4' });
      await handle.executeUpdate(applyPlanUpdate, { args: [{ plan: next }] });
      rec.failLaunchOn = undefined;
      const back = await handle.executeUpdate(rollbackUpdate);
      assert.equal(back.ok, true, JSON.stringify(back));
      await waitForStatus(handle, (s) => s.stage === 'ready');
      assert.deepEqual(
        (await handle.query(planQuery)).settings.prefill_extra_args,
        plan.settings.prefill_extra_args,
      );
    });
  });
});
