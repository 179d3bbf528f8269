import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';

import { runPhasesUpdate, statusQuery } from '../../src/workflows/cluster/messages';
import {
  activityRuns,
  allContainers,
  planContainers,
  recordHistory,
  ssh,
  waitForStatus,
  type DeployHandle,
  type HostContainer,
} from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * The cluster workflow on the simulated sim-2P1D cluster (sim instance 20: p0+c0, p1, d0, d1 on
 * four machines) with a real Temporal server and the real activities in this process: a deploy,
 * idempotent re-runs, an image change, clean_up, and a cancel in the middle of a phase.
 */
const INSTANCE = 20;

describe('cluster workflow on sim-2P1D', { timeout: 300_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE);
  let first: DeployHandle;
  let firstIds: Record<string, string>;

  const idsOf = (cs: Record<string, HostContainer | undefined>) =>
    Object.fromEntries(Object.entries(cs).map(([h, c]) => [h, c?.id ?? '']));

  it('run_docker + sync_code: a running container per host, the code on every machine', async () => {
    const plan = sim.plan;
    first = await sim.deploy(['preflight', 'run_docker', 'sync_code']);
    const status = await waitForStatus(
      first,
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
    );
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    for (const h of plan.hosts) {
      for (const phase of ['preflight', 'run_docker'] as const) {
        assert.equal(status.table[h.name]?.[phase]?.state, 'ok', `${h.name} ${phase}`);
      }
      assert.match(status.table[h.name]?.run_docker?.note ?? '', /^created /, h.name);
    }
    assert.equal(status.table.c0?.sync_code?.state, 'skipped', 'c0 shares p0 machine');

    const containers = await planContainers(sim.cluster.ctx, plan);
    for (const h of plan.hosts) {
      const c = containers[h.name];
      assert.ok(c, `no container ${h.container.name} for ${h.name}`);
      assert.ok(c.running, `${h.name} ${c.name} not running`);
    }
    // Exactly the planned containers: p0's machine holds prefill and proxy, the others one each.
    assert.equal((await allContainers(sim.cluster.ctx, plan)).length, plan.hosts.length);
    firstIds = idsOf(containers);

    const codePath = plan.settings.CODE_PATH;
    for (const address of new Set(plan.hosts.map((h) => h.address))) {
      const setup = await ssh(sim.cluster.ctx, address, `cat ${codePath}/omniinfer/setup.py`);
      assert.equal(setup, '# stand-in for the omniinfer checkout\n', address);
      // The install step ran in the engine container and left its marker.
      await ssh(sim.cluster.ctx, address, `test -f ${codePath}/omniinfer/.omni-deploy-installed`);
    }
  });

  it('a second run_docker (runPhases update) keeps every container: same IDs', async () => {
    const outcome = await first.executeUpdate(runPhasesUpdate, { args: [{ phases: ['run_docker'] }] });
    assert.deepEqual(outcome, { phases: ['run_docker'], ok: true, failures: [] });
    const plan = sim.plan;
    assert.deepEqual(idsOf(await planContainers(sim.cluster.ctx, plan)), firstIds);
    const status = await first.query(statusQuery);
    for (const h of plan.hosts) {
      assert.equal(status.table[h.name]?.run_docker?.note, `kept ${firstIds[h.name]!.slice(0, 12)}`, h.name);
    }
    // The update ran the step again on every host (it did not skip them as done).
    const runs = activityRuns(await first.fetchHistory()).filter((r) => r.type === 'ensureContainer');
    assert.equal(runs.length, 2 * plan.hosts.length);
  });

  it('a new workflow for the same cluster keeps them too', async () => {
    // The first workflow goes away without cleaning up (as if its history were lost), so a
    // second deploy of the same cluster meets containers it did not create.
    await first.terminate('e2e: a second deploy of the same cluster follows');
    await recordHistory(first, 'deploy-rerun');
    const plan = sim.plan;
    const handle = await sim.deploy(['run_docker']);
    const status = await waitForStatus(
      handle,
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
    );
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    assert.deepEqual(idsOf(await planContainers(sim.cluster.ctx, plan)), firstIds);
    for (const h of plan.hosts) assert.match(status.table[h.name]?.run_docker?.note ?? '', /^kept /, h.name);
    await handle.terminate('e2e: next deploy changes the image');
  });

  it('a changed image replaces the containers (new IDs and spec hash); clean_up removes them all', async () => {
    const plan = sim.cluster.plan({ DOCKER_IMAGE_ID: sim.cluster.sim.images.proxy });
    const before = await planContainers(sim.cluster.ctx, plan);
    const handle = await sim.deploy(['run_docker'], {}, plan);
    const status = await waitForStatus(
      handle,
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
    );
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    const after = await planContainers(sim.cluster.ctx, plan);
    for (const h of plan.hosts) {
      const [old, now] = [before[h.name]!, after[h.name]!];
      assert.ok(now.running, `${h.name} not running`);
      if (h.role === 'proxy') {
        // The proxy runs proxy_image, not DOCKER_IMAGE_ID: its spec did not change.
        assert.equal(now.id, old.id, `${h.name} kept`);
        continue;
      }
      assert.notEqual(now.id, old.id, `${h.name} replaced`);
      assert.notEqual(now.specHash, old.specHash, `${h.name} spec hash`);
      assert.match(status.table[h.name]?.run_docker?.note ?? '', /^replaced /, h.name);
    }
    assert.equal(
      (await allContainers(sim.cluster.ctx, plan)).length,
      plan.hosts.length,
      'no leftover container',
    );

    const outcome = await handle.executeUpdate(runPhasesUpdate, { args: [{ phases: ['clean_up'] }] });
    assert.equal(outcome.ok, true, JSON.stringify(outcome.failures));
    await handle.result(); // after clean_up nothing is left to manage: the workflow ends
    assert.deepEqual(await allContainers(sim.cluster.ctx, plan), []);
    assert.equal((await handle.query(statusQuery)).stage, 'cleaned');
    await recordHistory(handle, 'deploy-image-change-clean-up');
  });

  it('cancelled in the middle of sync_code: no container of the cluster is left on any host', async () => {
    const plan = sim.cluster.plan({
      code_install_command: 'sleep 8; test -f "$CODE_PATH/omniinfer/setup.py"',
    });
    // New code, so the install step runs again (unchanged code with its marker skips it).
    fs.writeFileSync(path.join(sim.cluster.codeDir, 'VERSION'), 'cancel test\n');
    const handle = await sim.deploy(['run_docker', 'sync_code'], {}, plan);
    await waitForStatus(
      handle,
      (s) => s.currentPhase === 'sync_code' && s.table.p1?.sync_code?.state === 'running',
    );
    // Mid-phase for real: the containers exist and the slow install runs in them.
    assert.equal((await allContainers(sim.cluster.ctx, plan)).length, plan.hosts.length);
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = Date.now();
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    console.log(`cancel → cleaned and closed in ${Date.now() - t0} ms`);
    assert.equal((await handle.describe()).status.name, 'CANCELLED');
    assert.deepEqual(await allContainers(sim.cluster.ctx, plan), []);
    const status = await handle.query(statusQuery);
    assert.equal(status.stage, 'cleaned');
    for (const h of plan.hosts) assert.equal(status.table[h.name]?.clean_up?.state, 'ok', h.name);
    const runs = activityRuns(await handle.fetchHistory());
    assert.ok(
      runs.some((r) => r.type === 'syncCode' && r.outcome === 'cancelled'),
      `the running install was cancelled, not awaited: ${JSON.stringify(runs)}`,
    );
    await recordHistory(handle, 'deploy-cancel-mid-phase');
  });

  it('cancelled while run_docker creates the containers: none is left once the run has ended', async () => {
    const plan = sim.plan;
    assert.deepEqual(await allContainers(sim.cluster.ctx, plan), []);
    const handle = await sim.deploy(['run_docker']);
    await waitForStatus(handle, (s) => s.table.p1?.run_docker?.state === 'running');
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    // Whatever the workers still had in flight when the run ended must not outlive its cleanup.
    await new Promise((r) => setTimeout(r, 3000));
    assert.deepEqual(await allContainers(sim.cluster.ctx, plan), []);
    await recordHistory(handle, 'deploy-cancel-during-run-docker');
  });
});
