import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import type { Page } from 'playwright-core';
import type { Activities } from '../../src/activities';
import { planSummary } from '../../src/client/actions/planInput';
import { clusterWorkflowId } from '../../src/shared/ids';
import { temporalCliPath } from '../../src/shared/paths';
import { DEPLOY_CLUSTER, SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { deployCluster } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/cluster/messages';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';
import { runDeploy } from '../helpers/cli';
import { seedPlan } from '../helpers/plans';
import { freePort } from '../helpers/ports';
import { workflowBundle } from '../helpers/temporal';
import { ARTIFACTS, frameWithText, openUiBrowser, type UiBrowser } from '../helpers/webui';
import { waitFor } from '../helpers/waitFor';

/**
 * What an operator sees in the Temporal Web UI, checked in a real browser (Debian's Chromium driven
 * by playwright-core; never a downloaded browser): the cluster workflow found by its DeployCluster
 * search attribute, its summary and the host × phase table of its current details, and the
 * cluster's log Schedule. Screenshots land in test-artifacts/.
 */
const PHASES = ['preflight', 'run_docker', 'sync_code'] as const;
const fakeActivities: Partial<Activities> = {
  preflight: async () => [],
  ensureContainer: async (i) => ({ action: 'created', id: `${i.name}-0123456789ab` }),
  syncCode: async () => ({ changed: true, bytesSent: 4096, installed: false }),
};

describe('Temporal Web UI in a browser', { timeout: 300_000 }, () => {
  const plan = seedPlan('2P1D', { cluster_name: 'webui-2p1d' });
  const hosts = plan.hosts.map((h) => h.name);
  let env: TestWorkflowEnvironment | undefined;
  let uiPort: number;
  let browser: UiBrowser | undefined;
  let worker: Worker | undefined;
  let workerDone: Promise<void> | undefined;
  let page: Page;

  before(async () => {
    uiPort = await freePort();
    env = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        ui: true,
        uiPort,
        searchAttributes: [...SEARCH_ATTRIBUTES],
      },
    });
    const taskQueue = `webui-${process.pid}`;
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: await workflowBundle(),
      activities: fakeActivities,
    });
    workerDone = worker.run();
    const options: DeployOptions = {
      phases: [...PHASES],
      parallelism: 5,
      executorTaskQueue: taskQueue,
      activity: DEFAULT_ACTIVITY_TUNING,
      maxHistoryEvents: 10_000,
    };
    const handle = await env.client.workflow.start(deployCluster, {
      taskQueue,
      workflowId: clusterWorkflowId(plan.cluster),
      args: [{ plan, options }],
      typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: plan.cluster }],
      staticSummary: planSummary(plan),
      staticDetails: `phases: ${PHASES.join(' → ')}`,
    });
    await waitFor(
      async () => {
        const s = await handle.query(statusQuery);
        assert.notEqual(s.stage, 'waiting-for-operator', JSON.stringify(s.failures));
        return s.stage === 'ready';
      },
      { interval: 100, what: 'the deploy to be ready' },
    );

    browser = await openUiBrowser();
    page = browser.page;
  });

  after(async () => {
    await browser?.close();
    worker?.shutdown();
    await workerDone;
    await env?.teardown();
  });

  it('finds the cluster workflow by DeployCluster and shows its summary and host × phase details', async () => {
    const query = encodeURIComponent(`DeployCluster="${plan.cluster}"`);
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${query}`);
    const row = page.getByRole('link', { name: clusterWorkflowId(plan.cluster), exact: true });
    await row.waitFor({ timeout: 30_000 });
    await row.click();
    await page.waitForURL(/\/workflows\/cluster%2Fwebui-2p1d\//);

    // Activity summaries name host and phase in the event history.
    for (const h of hosts) await page.getByText(`${h} · run_docker`).first().waitFor();

    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await frameWithText(page, planSummary(plan));
    const details = await frameWithText(page, `${plan.cluster} — ready`);
    const table = await details.locator('table').innerText();
    for (const p of PHASES) assert.match(table, new RegExp(`\\b${p}\\b`), `phase ${p} in the details table`);
    for (const h of hosts) assert.match(table, new RegExp(`^${h}\\b`, 'm'), `host ${h} in the details table`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-cluster.png') });
  });

  it('lists the log Schedule created by the CLI on the Schedules page', async () => {
    const r = await runDeploy(['logs', 'schedule', plan.cluster, '--every', '15m'], {
      TEMPORAL_ADDRESS: env!.address,
      TEMPORAL_NAMESPACE: 'default',
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/schedules`);
    await page.getByText(`logs/${plan.cluster}`).first().waitFor({ timeout: 30_000 });
    await page.getByText('fetchLogsWorkflow').first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'webui-schedule.png') });
    console.log(`screenshots in ${ARTIFACTS}; requests off loopback blocked: ${browser!.offLoopback.length}`);
  });
});
