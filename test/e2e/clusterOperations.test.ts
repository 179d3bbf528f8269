import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { temporal } from '@temporalio/proto';
import { selectPhases } from '../../src/shared/phases';
import { clusterWorkflowId } from '../../src/shared/ids';
import {
  eventsQuery,
  planQuery,
  restartServersUpdate,
  statusQuery,
} from '../../src/workflows/cluster/messages';
import type { ClusterStatus, HealthOptions } from '../../src/workflows/cluster/types';
import {
  recordHistory,
  ssh,
  startDeploy,
  testOptions,
  waitForStatus,
  type DeployHandle,
} from '../helpers/deploy';
import { killDecodeEngine } from '../helpers/faults';
import { serverManifest } from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * Every operation a running cluster workflow serves, one after another on sim-2P1D (sim instance
 * 57 unless OMNI_SIM_TEST_INSTANCE says otherwise), through the CLI an operator uses: self-healing
 * off and on again around a killed decode engine, `deploy restart` (the update, and the signal of
 * `--detach`), `deploy start --tags` on the running cluster (runPhases), a rollout that fails and
 * is rolled back while it waits for the operator, a rollout and its rollback; each step over more
 * than one host runs in a hostSteps child workflow (childSteps.minHosts lowered to 1). Then a
 * workflow whose history limit is tiny continues as new after a phase and again at its idle point.
 *
 * With RECORD_HISTORIES=1 it writes the histories test/workflow/replay.test.ts replays:
 *   OMNI_SIM_TEST_INSTANCE=2xx RECORD_HISTORIES=1 node --import tsx --test test/e2e/clusterOperations.test.ts
 */
const INSTANCE = 57;
/** Probes every 2 s; repairs 3 times, quickly. */
const HEALTH: HealthOptions = {
  intervalMs: 2000,
  probeTimeoutMs: 3000,
  maxWatchMs: 600_000,
  heal: true,
  healAttempts: 3,
  healBackoffMs: [2000, 4000],
};

type History = temporal.api.history.v1.IHistory;

const eventsOf = (h: History, attr: keyof temporal.api.history.v1.IHistoryEvent) =>
  (h.events ?? []).filter((e) => e[attr] != null);

describe('operations of a running cluster workflow on sim-2P1D', { timeout: 1_200_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE);
  let handle: DeployHandle;
  let name: string;

  const cli = (args: string[], timeoutMs?: number) => sim.cli(args, timeoutMs);
  const ok = (r: { code: number; stdout: string; stderr: string }) =>
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  /** The engine PIDs per host from its servers.json (read again while it is being rewritten). */
  const pids = async (hosts: string[]) => {
    const plan = sim.cluster.plan();
    const manifest = async (h: string) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return (await serverManifest(sim.cluster.ctx, plan, h)).map((s) => s.pid).join(',');
        } catch (err) {
          if (!(err instanceof SyntaxError) || attempt >= 10) throw err;
          await new Promise((r) => setTimeout(r, 300));
        }
      }
    };
    return Object.fromEntries(await Promise.all(hosts.map(async (h) => [h, await manifest(h)])));
  };
  const idle = (s: ClusterStatus) => s.stage === 'ready' && !s.operation && (s.queued ?? []).length === 0;
  const serving = (s: ClusterStatus) => idle(s) && s.health?.state === 'serving';

  // Started here, waited for by the first test (which reads the deploy's history).
  before(async () => {
    name = sim.plan.cluster;
    handle = await sim.deploy(selectPhases(), { health: HEALTH, childSteps: { minHosts: 1 } });
  });

  it('deploys every phase, steps over several hosts in hostSteps child workflows, ranktables included', async () => {
    const s = await waitForStatus(
      handle,
      (x) => (x.stage === 'ready' && x.health !== undefined) || x.stage === 'waiting-for-operator',
      300_000,
      'the deploy and a first health verdict',
    );
    assert.equal(s.stage, 'ready', JSON.stringify(s.failures));
    assert.equal(s.health!.state, 'serving', JSON.stringify(s.health));
    const history = await handle.fetchHistory();
    const children = eventsOf(history, 'childWorkflowExecutionStartedEventAttributes');
    assert.ok(children.length >= 3, `child workflows started: ${children.length}`);
    const writes = eventsOf(history, 'activityTaskScheduledEventAttributes').filter(
      (e) => e.activityTaskScheduledEventAttributes!.activityType?.name === 'writeRanktables',
    );
    assert.ok(writes.length >= 1, 'the ranktable phase wrote the ranktables');
    // A child's own history: the host steps of one step, progress signalled to the parent.
    const child = children[0]!.childWorkflowExecutionStartedEventAttributes!.workflowExecution!;
    const childHandle = sim.client.workflow.getHandle(child.workflowId!, child.runId!);
    const childHistory = await childHandle.fetchHistory();
    assert.equal(
      childHistory.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name,
      'hostStepsWorkflow',
    );
    assert.ok(eventsOf(childHistory, 'activityTaskCompletedEventAttributes').length >= 2);
    await recordHistory(childHandle, 'host-steps-child');
  });

  it('heal off: a killed decode engine is reported, not repaired; heal on: it is repaired', async () => {
    const off = await cli(['heal', 'off', name]);
    ok(off);
    assert.match(off.stdout, /self-healing of .* is off/);
    const plan = sim.cluster.plan();
    await killDecodeEngine('d1').inject({ ctx: sim.cluster.ctx, plan, handle, url: '', model: '' });
    const seen = await waitForStatus(
      handle,
      (s) => s.health?.units.some((u) => u.unit === 'decode-0' && u.state !== 'serving') === true,
      60_000,
      'decode-0 reported not serving',
    );
    assert.equal(seen.healing, 'off');
    // Three more probes: nothing is queued or run while healing is off.
    await new Promise((r) => setTimeout(r, 3 * HEALTH.intervalMs));
    const still = await handle.query(statusQuery);
    assert.ok(idle(still), `no repair runs while healing is off: ${JSON.stringify(still.operation)}`);
    assert.notEqual(still.health?.state, 'serving');

    const on = await cli(['heal', 'on', name]);
    ok(on);
    assert.match(on.stdout, /self-healing of .* is on/);
    await waitForStatus(handle, serving, 180_000, 'decode-0 repaired once healing is on');
    const events = await handle.query(eventsQuery);
    assert.ok(
      events.some((e) => e.kind === 'heal' && e.result === 'ok' && e.unit === 'decode-0'),
      JSON.stringify(events),
    );
    assert.ok(events.some((e) => e.kind === 'healing' && /turned off/.test(e.message)));
  });

  it('deploy restart (the update): the prefill engines restart, decode keeps its processes', async () => {
    const before = await pids(['p0', 'p1', 'd0', 'd1']);
    const r = await cli(['restart', name, '--role', 'prefill']);
    ok(r);
    assert.match(r.stdout, /restarted p0, p1: ready again/);
    const now = await pids(['p0', 'p1', 'd0', 'd1']);
    assert.notEqual(now.p0, before.p0);
    assert.notEqual(now.p1, before.p1);
    assert.equal(now.d0, before.d0);
    assert.equal(now.d1, before.d1);
  });

  it('deploy restart --detach (the signal): the decode engines restart', async () => {
    const before = await pids(['d0', 'd1']);
    const r = await cli(['restart', name, '--role', 'decode', '--detach']);
    ok(r);
    assert.match(r.stdout, /restart of .* requested/);
    const deadline = Date.now() + 180_000;
    for (;;) {
      const now = await pids(['d0', 'd1']).catch(() => before);
      if (now.d0 !== before.d0 && now.d1 !== before.d1) break;
      assert.ok(Date.now() < deadline, `decode pids still ${JSON.stringify(now)}`);
      await new Promise((r2) => setTimeout(r2, 500));
    }
    await waitForStatus(handle, serving, 120_000, 'ready and serving after the restart signal');
  });

  it('deploy start --tags sync_code on the running cluster runs that phase (runPhases)', async () => {
    const r = await cli(['start', '-i', sim.cluster.inventoryFile, '--tags', 'sync_code']);
    ok(r);
    assert.match(r.stdout, /running sync_code on it with this inventory/);
    assert.match(r.stdout, /sync_code: done/);
    await waitForStatus(handle, serving, 120_000, 'serving after runPhases');
  });

  it('a rollout that fails waits for the operator; deploy rollback then reverts it', async () => {
    const plan = sim.cluster.plan();
    const image = 'localhost/omni-sim-engine:no-such-image';
    const r = await cli(['start', '-i', sim.cluster.inventoryFile, '-e', `DOCKER_IMAGE_ID=${image}`]);
    assert.equal(r.code, 2, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /rollout: stopped, failed on/);
    const waiting = await waitForStatus(
      handle,
      (s) => s.stage === 'waiting-for-operator',
      60_000,
      'the rollout waiting for the operator',
    );
    assert.ok(waiting.failures.length > 0);
    const back = await cli(['rollback', name]);
    ok(back);
    assert.match(back.stdout, /rollback: done/);
    await waitForStatus(handle, idle, 120_000, 'ready after the abandoned rollout was reverted');
    const events = await handle.query(eventsQuery);
    assert.ok(
      events.some((e) => /abandoned by the operator/.test(e.message)),
      JSON.stringify(events),
    );
    for (const h of plan.hosts.filter((x) => x.role !== 'proxy')) {
      const running = await ssh(
        sim.cluster.ctx,
        h.address,
        `docker inspect --format '{{.Config.Image}}' ${h.container.name}`,
      );
      assert.notEqual(running.trim(), image, `${h.name} runs the old image`);
    }
    assert.deepEqual(
      (await handle.query(planQuery)).settings,
      plan.settings,
      'the Plan in force is the old one',
    );
  });

  it('a rollout of a prefill argument, then deploy rollback to the Plan before it', async () => {
    const plan = sim.cluster.plan();
    const args = plan.settings.prefill_extra_args.join(' ').replace('--max-num-seqs 16', '--max-num-seqs 8');
    assert.notEqual(args, plan.settings.prefill_extra_args.join(' '));
    const before = await pids(['p0', 'd0']);
    const r = await cli(['start', '-i', sim.cluster.inventoryFile, '-e', `prefill_extra_args=${args}`]);
    ok(r);
    assert.match(r.stdout, /rollout: done/);
    assert.equal((await handle.query(planQuery)).settings.prefill_extra_args.join(' '), args);
    const rolled = await pids(['p0', 'd0']);
    assert.notEqual(rolled.p0, before.p0);
    assert.equal(rolled.d0, before.d0, 'decode untouched');

    const back = await cli(['rollback', name]);
    ok(back);
    assert.match(back.stdout, /rollback: done/);
    assert.deepEqual(
      (await handle.query(planQuery)).settings.prefill_extra_args,
      plan.settings.prefill_extra_args,
    );
    assert.notEqual((await pids(['p0']))!.p0, rolled.p0, 'prefill restarted with the old argument');
    await waitForStatus(handle, serving, 120_000, 'serving after the rollback');

    const history = await handle.fetchHistory();
    const updates = eventsOf(history, 'workflowExecutionUpdateAcceptedEventAttributes').map(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest?.input?.name,
    );
    for (const u of ['setHealing', 'restartServersAndWait', 'runPhases', 'applyPlan', 'rollback']) {
      assert.ok(updates.includes(u), `${u} in ${updates.join(', ')}`);
    }
    assert.ok(
      eventsOf(history, 'workflowExecutionSignaledEventAttributes').some(
        (e) => e.workflowExecutionSignaledEventAttributes!.signalName === 'restartServers',
      ),
    );
    await recordHistory(handle, 'deploy-operations-in-children');
  });

  it('a tiny history limit: continues as new after a phase, and again at the idle point after a restart', async () => {
    // The cluster stays up; its first workflow makes way (whether or not the tests above passed).
    await handle.terminate('next: a workflow that continues as new').catch(() => undefined);
    const plan = sim.cluster.plan();
    const first = await startDeploy(sim.client, plan, testOptions(['preflight'], { maxHistoryEvents: 10 }));
    const latest = sim.client.workflow.getHandle(clusterWorkflowId(name));
    sim.onTeardown(() => latest.terminate('test done'));
    // preflight over five hosts makes more than 10 events: the next run carries on, ready.
    const ready = await waitForStatus(latest, idle, 120_000, 'ready in the continued run');
    assert.equal(ready.generation, 1, 'one continue-as-new after preflight');
    const run1 = sim.client.workflow.getHandle(clusterWorkflowId(name), first.firstExecutionRunId);
    const h1 = await run1.fetchHistory();
    const continued = h1.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    assert.ok(continued?.newExecutionRunId, 'run 1 ends continued as new');
    const run2 = sim.client.workflow.getHandle(clusterWorkflowId(name), continued.newExecutionRunId);

    // A restart in the idle run 2 makes its history pass the limit: it continues as new once idle.
    const before = await pids(['d0', 'd1']);
    const outcome = await latest.executeUpdate(restartServersUpdate, { args: [{ roles: ['decode'] }] });
    assert.ok(outcome.ok, JSON.stringify(outcome.failures));
    assert.notEqual((await pids(['d0']))!.d0, before.d0);
    const s = await waitForStatus(latest, (x) => idle(x) && x.generation === 2, 60_000, 'generation 2');
    assert.equal(s.stage, 'ready');
    const h2 = await run2.fetchHistory();
    assert.ok(h2.events?.[0]?.workflowExecutionStartedEventAttributes?.continuedExecutionRunId);
    assert.ok(
      h2.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes,
      'run 2 ends continued as new',
    );
    await recordHistory(run1, 'deploy-continue-as-new-after-phase');
    await recordHistory(run2, 'deploy-continued-restart-then-continue-as-new');
  });
});
