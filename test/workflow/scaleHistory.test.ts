import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { loadInventory } from '../../src/inventory';
import { compactPlan } from '../../src/plan/compact';
import { buildPlan } from '../../src/plan';
import { clusterWorkflowId } from '../../src/shared/ids';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';
import { bigInventory } from '../helpers/bigInventory';
import { startDeploy, waitForStatus } from '../helpers/deploy';
import { FakeHosts } from '../helpers/fakeHosts';
import { historyStats } from '../helpers/historyStats';
import { startTestServer, workflowBundle } from '../helpers/temporal';

/**
 * A whole deploy of 512 hosts × 16 devices (508 single-host prefill instances, a 4-host decode
 * instance) through the real cluster workflow and Temporal server, with activities that answer at
 * once what a host would (FakeHosts, answers as big as real ones): every run's history — the
 * cluster workflow's and each child's — is measured against Temporal's limits (warn at 10 240
 * events / 10 MB, fail at 2 MB per payload).
 */
const LAYOUT = { prefillInstances: 508, hostsPerPrefill: 1, decodeHosts: 4, devices: 16 };
const KiB = 1024;
const MiB = 1024 * KiB;

describe(
  'a deploy of 512 hosts × 16 devices: every run’s history stays bounded',
  { timeout: 900_000 },
  () => {
    let env: TestWorkflowEnvironment;
    let dir: string;

    before(async () => {
      env = await startTestServer();
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-scale-history-'));
    });
    after(async () => {
      await env?.teardown();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('deploys to ready with no run near 10 240 events or 10 MB and no payload near 2 MB', async (t) => {
      const file = path.join(dir, 'big.yml');
      fs.writeFileSync(
        file,
        bigInventory(LAYOUT).replace('all:\n  vars:\n', 'all:\n  vars:\n    cluster_name: scale-512\n'),
      );
      const inventory = loadInventory(file);
      const plan = buildPlan(inventory);
      // Its own queue, not the production one: other test files share this Temporal server.
      const taskQueue = `scale-${randomUUID()}`;
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: new FakeHosts().activities(),
        maxConcurrentActivityTaskExecutions: 200,
      });
      const options: DeployOptions = {
        phases: ['preflight', 'run_docker', 'sync_code', 'ranktable', 'run_server', 'run_proxy', 'verify'],
        parallelism: 50,
        executorTaskQueue: taskQueue,
        activity: DEFAULT_ACTIVITY_TUNING,
        maxHistoryEvents: 10_000,
      };
      const started = Date.now();
      await worker.runUntil(async () => {
        const handle = await startDeploy(env.client, compactPlan(inventory), options, taskQueue);
        const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 840_000, 'the deploy');
        assert.equal(status.stage, 'ready', JSON.stringify(status.failures).slice(0, 1000));
        assert.equal(Object.keys(status.table).length, plan.hosts.length);
        for (const h of plan.hosts.filter((x) => x.role !== 'proxy')) {
          assert.equal(status.table[h.name]?.run_server?.state, 'ok', `${h.name} run_server`);
        }
        t.diagnostic(
          `deployed ${plan.hosts.length} hosts in ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );

        const runs = await historyStats(
          env.client,
          clusterWorkflowId(plan.cluster),
          handle.firstExecutionRunId,
        );
        const cluster = runs.filter((r) => r.type === 'deployCluster');
        const children = runs.filter((r) => r.type === 'hostStepsWorkflow');
        const worst = (rs: typeof runs, k: 'events' | 'bytes' | 'largestPayload') =>
          Math.max(...rs.map((r) => r[k]));
        const largest = runs.reduce((a, r) => (r.largestPayload > a.largestPayload ? r : a));
        t.diagnostic(
          `cluster workflow: ${cluster.length} run(s), at most ${worst(cluster, 'events')} events / ` +
            `${(worst(cluster, 'bytes') / KiB).toFixed(0)} KiB; ${children.length} child runs, at most ` +
            `${worst(children, 'events')} events / ${(worst(children, 'bytes') / KiB).toFixed(0)} KiB; ` +
            `largest payload ${(largest.largestPayload / KiB).toFixed(0)} KiB (${largest.largestPayloadWhere} of ${largest.workflowId})`,
        );
        await handle.terminate('measured');
        for (const r of runs) {
          assert.ok(r.events < 5_000, `${r.workflowId} ${r.runId}: ${r.events} events`);
          assert.ok(r.bytes < 5 * MiB, `${r.workflowId} ${r.runId}: ${r.bytes} bytes`);
          assert.ok(r.largestPayload < MiB, `${r.workflowId}: a ${r.largestPayload}-byte payload`);
        }
        assert.ok(worst(cluster, 'events') < 2_500, 'the cluster workflow records chunks, not hosts');
      });
    });
  },
);
