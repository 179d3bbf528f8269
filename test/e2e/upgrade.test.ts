import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { temporal } from '@temporalio/proto';
import { PROJECT_ROOT } from '../../src/shared/paths';
import { clusterWorkflowId } from '../../src/shared/ids';
import type { ClusterStatus } from '../../src/workflows/cluster/types';
import { runDeploy } from '../helpers/cli';
import { recordHistory, TEST_EXECUTOR, waitForStatus } from '../helpers/deploy';
import { serverManifest } from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';
import type { WorkerProcess } from '../helpers/workerProcess';

/**
 * An upgrade of omni-deploy under a running cluster (issue 22). A cluster started by the previous
 * build — the tree of commit PREVIOUS_BUILD (main before the split), built with scripts/build.js, its own `deploy start`
 * and `deploy worker` — keeps running when a worker of this checkout replaces the old worker; at
 * its next idle point the workflow continues as new (a ContinueAsNew event ends the old build's
 * run), and a later `deploy restart` runs on this checkout's code.
 *
 * The feature: the cluster workflow records `workflowInfo().currentBuildId` when a run starts and
 * continues as new at the idle point when it differs, behind `patched('continue-as-new-on-upgrade')`
 * (src/workflows/patches.ts); the health watch activity returns promptly when its worker shuts
 * down, so the idle workflow gets a task. Without the feature the continue-as-new is never seen
 * (checked: the second test fails after 120 s). With RECORD_HISTORIES=1 it writes
 * upgrade-previous-build-run-continued-as-new.json (the old build's run: the patch marker, then
 * ContinueAsNew) and upgrade-new-build-run-restart.json (kept in test/histories).
 *
 * sim-2P1D on sim instance 58 unless OMNI_SIM_TEST_INSTANCE says otherwise:
 *   OMNI_SIM_TEST_INSTANCE=2xx RECORD_HISTORIES=1 node --import tsx --test test/e2e/upgrade.test.ts
 */
const INSTANCE = 58;
/** Main at the start of issue 22 (the cluster workflow before its split): a commit every clone has. */
const PREVIOUS_BUILD = '61abc8fb439eff39c68525e90de401bdb764364a';
const UPGRADE_PATCH = 'continue-as-new-on-upgrade';

/** The tree of PREVIOUS_BUILD, extracted (git archive) and built, node_modules and .tools linked. */
function previousBuild(dir: string): void {
  const archive = spawnSync('git', ['archive', '--format=tar', PREVIOUS_BUILD], {
    cwd: PROJECT_ROOT,
    maxBuffer: 512 << 20,
  });
  assert.equal(archive.status, 0, `git archive ${PREVIOUS_BUILD}: ${String(archive.stderr)}`);
  const untar = spawnSync('tar', ['-xf', '-'], { cwd: dir, input: archive.stdout });
  assert.equal(untar.status, 0, String(untar.stderr));
  for (const link of ['node_modules', '.tools']) {
    fs.symlinkSync(fs.realpathSync(path.join(PROJECT_ROOT, link)), path.join(dir, link));
  }
  const build = spawnSync(process.execPath, ['scripts/build.js'], { cwd: dir, encoding: 'utf8' });
  assert.equal(build.status, 0, `build of ${PREVIOUS_BUILD}: ${build.stdout}${build.stderr}`);
}

type History = temporal.api.history.v1.IHistory;

/** The identities (`<pid>@<host>`) of the workers that completed each workflow task, in order. */
const taskIdentities = (h: History): string[] =>
  (h.events ?? []).flatMap((e) =>
    e.workflowTaskCompletedEventAttributes ? [e.workflowTaskCompletedEventAttributes.identity ?? ''] : [],
  );

describe('upgrade under a running cluster: previous build → this checkout', { timeout: 900_000 }, () => {
  let oldCheckout: string;
  let oldWorker: WorkerProcess | undefined;
  let newWorker: WorkerProcess | undefined;
  let firstRunId: string;

  // Ahead of the fixture's before(): the previous build first, then the cluster and the server.
  before(() => {
    oldCheckout = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-prev-build-'));
    sim.onTeardown(async () => fs.rmSync(oldCheckout, { recursive: true, force: true }));
    previousBuild(oldCheckout);
  });
  // No worker of this checkout: each build's `deploy worker` is started by the tests.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { workers: 'none' });

  /** `deploy worker` of a checkout (bin/deploy inside it) against the test server. */
  const startWorker = (checkout: string): Promise<WorkerProcess> =>
    sim.startWorker(['--executor', TEST_EXECUTOR], { checkout, startTimeoutMs: 120_000 });
  /** The cluster's workflow, whatever its latest run (terminated in after()). */
  const status = () => sim.adopt();
  /** One run of it. */
  const run = (runId: string) => sim.client.workflow.getHandle(clusterWorkflowId(sim.plan.cluster), runId);
  const serving = (s: ClusterStatus) =>
    s.stage === 'ready' && !s.operation && (s.queued ?? []).length === 0 && s.health?.state === 'serving';

  it('the previous build deploys the cluster with its own deploy start and deploy worker', async () => {
    oldWorker = await startWorker(oldCheckout);
    const r = await runDeploy(
      [
        'start',
        '-i',
        sim.cluster.inventoryFile,
        '--detach',
        '--executor',
        TEST_EXECUTOR,
        '--attempts',
        '3',
        '--watch-every',
        '2s',
      ],
      sim.cliEnv,
      120_000,
      oldCheckout,
    );
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const s = await waitForStatus(status(), serving, 300_000, 'the deploy of the previous build, serving');
    assert.equal(s.generation, 0);
    const description = await status().describe();
    firstRunId = description.runId;
    const identities = taskIdentities(await status().fetchHistory());
    assert.ok(
      identities.every((i) => i.startsWith(`${oldWorker!.child.pid}@`)),
      `every task so far by the old worker (pid ${oldWorker!.child.pid}): ${identities.join(', ')}`,
    );
  });

  it('a worker of this checkout replaces the old one: the run continues as new at its idle point', async () => {
    await oldWorker!.stop();
    oldWorker = undefined;
    newWorker = await startWorker(PROJECT_ROOT);
    const s = await waitForStatus(
      status(),
      (x) => serving(x) && x.generation >= 1,
      120_000,
      'a continue-as-new onto the new build, serving',
    );
    assert.equal(s.generation, 1, 'exactly one continue-as-new for the upgrade');
    const oldRun = await run(firstRunId).fetchHistory();
    const last = oldRun.events?.at(-1);
    assert.ok(
      last?.workflowExecutionContinuedAsNewEventAttributes,
      `the previous build's run ends continued as new, not ${last?.eventType}`,
    );
    // The old build's run, replayed by the new code up to its idle point, then the marker of
    // the upgrade patch and the continue-as-new: with RECORD_HISTORIES=1 a history for
    // test/workflow/replay.test.ts (which wants every patch ID of src/ in some history).
    assert.ok(
      (oldRun.events ?? []).some(
        (e) =>
          e.markerRecordedEventAttributes?.markerName === 'core_patch' &&
          Buffer.from(
            e.markerRecordedEventAttributes.details?.['patch-data']?.payloads?.[0]?.data ?? [],
          ).includes(UPGRADE_PATCH),
      ),
      `the ${UPGRADE_PATCH} marker in the previous build's run`,
    );
    await recordHistory(run(firstRunId), 'upgrade-previous-build-run-continued-as-new');
    const newRunId = last.workflowExecutionContinuedAsNewEventAttributes.newExecutionRunId!;
    const newRun = await run(newRunId).fetchHistory();
    const identities = taskIdentities(newRun);
    assert.ok(identities.length > 0);
    assert.ok(
      identities.every((i) => i.startsWith(`${newWorker!.child.pid}@`)),
      `the new run's tasks by the new worker (pid ${newWorker!.child.pid}): ${identities.join(', ')}`,
    );
  });

  it('a later deploy restart runs on the new code', async () => {
    const plan = sim.plan;
    const before = await serverManifest(sim.cluster.ctx, plan, 'd0');
    const r = await sim.cli(['restart', plan.cluster, '--role', 'decode'], 300_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /restarted d0, d1: ready again/);
    const after = await serverManifest(sim.cluster.ctx, plan, 'd0');
    assert.notDeepEqual(
      after.map((x) => x.pid),
      before.map((x) => x.pid),
      'the decode engines restarted',
    );
    const history = await status().fetchHistory();
    const accepted = (history.events ?? []).findIndex(
      (e) =>
        e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name ===
        'restartServersAndWait',
    );
    assert.ok(accepted > 0, 'the restart update is in the current run');
    const identities = taskIdentities({ events: history.events!.slice(accepted) });
    assert.ok(
      identities.length > 0 && identities.every((i) => i.startsWith(`${newWorker!.child.pid}@`)),
      `the restart ran on the new worker (pid ${newWorker!.child.pid}): ${identities.join(', ')}`,
    );
    await recordHistory(status(), 'upgrade-new-build-run-restart');
  });
});
