import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import { statusQuery } from '../../src/workflows/cluster/messages';
import { activityRuns, allContainers, planContainers, recordHistory, waitForStatus } from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * A crash of the machine that drives the deploy: the only worker (a `deploy worker` process) is
 * SIGKILLed while sync_code runs on sim-2P1D (sim instance 21); a new worker process finishes the
 * run from the history, without a second container and without repeating a step that finished.
 */
const INSTANCE = 21;

describe('cluster workflow resumes after the worker is killed mid-phase', { timeout: 240_000 }, () => {
  // The only worker: a `deploy worker` process, so that the test can kill it.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, {
    workers: 'process',
    extraVars: { code_install_command: 'sleep 4; test -f "$CODE_PATH/omniinfer/setup.py"' },
  });

  it('a new worker finishes the run: same containers, finished steps not run again', async () => {
    const plan = sim.plan;
    const first = sim.worker;
    const handle = await sim.deploy(['preflight', 'run_docker', 'sync_code']);
    const running = await waitForStatus(
      handle,
      (s) => s.currentPhase === 'sync_code' && s.table.p1?.sync_code?.state === 'running',
    );
    assert.equal(running.table.d1?.run_docker?.state, 'ok');
    const idsBefore = await planContainers(sim.cluster.ctx, plan);
    await new Promise((r) => setTimeout(r, 1000)); // rsync done, the 4 s install is running
    await first.kill();
    const killedAt = Date.now();

    const second = await sim.startWorker();
    const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 90_000);
    console.log(`resumed and finished ${Date.now() - killedAt} ms after the kill`);
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    for (const h of plan.hosts) {
      for (const phase of ['preflight', 'run_docker'] as const) {
        assert.equal(status.table[h.name]?.[phase]?.state, 'ok', `${h.name} ${phase}`);
      }
    }
    for (const h of ['p0', 'p1', 'd0', 'd1']) assert.equal(status.table[h]?.sync_code?.state, 'ok', h);

    // No duplicate container: exactly one per inventory host, the ones from before the kill.
    const idsAfter = await planContainers(sim.cluster.ctx, plan);
    assert.deepEqual(idsAfter, idsBefore);
    assert.equal((await allContainers(sim.cluster.ctx, plan)).length, plan.hosts.length);

    const runs = activityRuns(await handle.fetchHistory());
    const scheduled = new Map<string, number>();
    for (const r of runs)
      scheduled.set(`${r.type} ${r.summary}`, (scheduled.get(`${r.type} ${r.summary}`) ?? 0) + 1);
    const expected = [
      ...plan.hosts.map((h) => `preflight ${h.name} · preflight`),
      ...plan.hosts.map((h) => `ensureContainer ${h.name} · run_docker`),
      ...['p0', 'p1', 'd0', 'd1'].map((h) => `syncCode ${h} · sync_code`),
    ];
    // Every step scheduled exactly once: the new worker replayed the finished ones from history.
    assert.deepEqual(Object.fromEntries(scheduled), Object.fromEntries(expected.map((k) => [k, 1])));
    for (const r of runs) assert.equal(r.outcome, 'completed', `${r.type} ${r.summary}`);
    // Steps finished before the kill ran once; only the interrupted installs were tried again.
    const retried = runs.filter((r) => r.attempt > 1);
    assert.ok(retried.length > 0, 'the kill hit sync_code while it ran');
    for (const r of retried) assert.equal(r.type, 'syncCode', `${r.summary} retried`);

    // The second worker did the retried attempts (the first is dead).
    const history = await handle.fetchHistory();
    const identities = (history.events ?? [])
      .map((e) => e.activityTaskStartedEventAttributes)
      .filter((a) => a && (a.attempt ?? 1) > 1)
      .map((a) => a!.identity);
    for (const id of identities) assert.equal(id, `${second.child.pid}@${os.hostname()}`);

    assert.equal((await handle.query(statusQuery)).stage, 'ready');
    await recordHistory(handle, 'deploy-resume-after-worker-kill');
    await handle.terminate('e2e: done');
  });
});
