import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { setEngineKnobs } from '../../sim';
import type { Plan } from '../../src/plan/types';
import { retryFailedUpdate } from '../../src/workflows/cluster/messages';
import { activityRuns, recordHistory, type DeployHandle } from '../helpers/deploy';
import {
  ALL_PHASES,
  assertPrefillThenDecode,
  complete,
  describeFailures,
  onHost,
  proxyUrl,
  quietRuntime,
  settled,
  stopAllEngines,
  terminateQuietly,
  waitForStatus,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * sim-multihost on instance 40 with the real Temporal server: prefill instance 0 spans p0 (its
 * Ray head) and p0b, prefill instance 1 is p1, the decode instance spans d0 and d1. The head's
 * engine starts only once p0b is in its Ray group, and the cluster serves completions through the
 * proxy, prefill then decode, on both prefill instances. Then p0b's Ray node dies right after
 * joining (fault knob): the head's engine gives up naming p0b, and `retryFailed` relaunches the
 * whole instance — head first — to ready.
 */
const INSTANCE = 40;
const EXECUTOR = 'serve-multihost-e2e';

describe('serving sim-multihost: a prefill instance over two hosts', { timeout: 420_000 }, () => {
  // Ahead of the fixture's before(): it must run before the test server touches the runtime.
  before(() => quietRuntime());
  const sim = useSimDeploy('sim-multihost', INSTANCE, { executor: EXECUTOR, tuning: 'e2e' });

  const host = (plan: Plan, name: string) => plan.hosts.find((h) => h.name === name)!;
  const headLog = (plan: Plan) => `${host(plan, 'p0').logDir}/server_0.log`;
  const inContainer = (plan: Plan, name: string, command: string) =>
    onHost(
      sim.cluster.ctx,
      host(plan, name).address,
      `docker exec ${host(plan, name).container.name} ${command}`,
    );

  /** Several completions through the proxy: each prefill then decode, both prefill instances used. */
  async function assertServesBothInstances(plan: Plan): Promise<void> {
    const prefills = new Set<string>();
    const decodes = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = await complete(proxyUrl(plan), 'completions', {
        model: plan.settings.served_model_name,
        prompt: `request ${i}`,
        max_tokens: 4,
      });
      const via = assertPrefillThenDecode(plan, r);
      prefills.add(via.prefill);
      decodes.add(via.decode);
    }
    assert.deepEqual([...prefills].sort(), [...plan.proxy.prefillUpstreams].sort(), 'both prefill instances');
    assert.ok(decodes.size >= 2, `decode servers used: ${[...decodes].join(', ')}`);
  }

  it('deploys to ready: the head waits for its member in the Ray group, then both prefill instances serve', async (t) => {
    const plan = sim.cluster.plan({ ray_join_timeout: '60s' });
    assert.deepEqual(plan.prefill[0]!.hosts, ['p0', 'p0b']);
    const started = Date.now();
    const handle = await sim.deploy(ALL_PHASES, {}, plan);
    const status = await waitForStatus(handle, 'the deploy', settled, 240_000);
    t.diagnostic(`sim-multihost: deploy → ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(status.stage, 'ready', describeFailures(status.failures));
    for (const h of ['p0', 'p0b', 'p1', 'd0', 'd1'])
      assert.equal(status.table[h]?.run_server?.state, 'ok', h);

    const log = await onHost(sim.cluster.ctx, host(plan, 'p0').address, `cat '${headLog(plan)}'`);
    const waited = /the Ray group has all 2 nodes after (\d+) s; starting the engine/.exec(log);
    assert.ok(waited, `the head's server log tells the wait:\n${log}`);
    t.diagnostic(`the head's engine waited ${waited[1]} s for p0b to join its Ray group`);
    assert.doesNotMatch(log, /placement group|EngineCore failed/, 'the engine found its whole group');
    const nodes = await inContainer(plan, 'p0', 'ray list nodes --filter state=ALIVE');
    for (const h of ['p0', 'p0b']) assert.ok(nodes.includes(host(plan, h).address), `${h} in the Ray group`);

    await assertServesBothInstances(plan);
  });

  it('a member whose Ray node dies: the head names it; retryFailed relaunches the whole instance to ready', async (t) => {
    const plan = sim.cluster.plan({ ray_join_timeout: '15s' });
    await terminateQuietly(sim.handle);
    await stopAllEngines(sim.cluster.ctx, plan);
    const p0b = host(plan, 'p0b').address;
    setEngineKnobs(p0b, { SIM_RAY_FAULT: 'die-after-join' }, sim.cluster.ctx);
    let handle: DeployHandle;
    let failedAt: number;
    try {
      const started = Date.now();
      handle = await sim.deploy(['run_server', 'run_proxy', 'verify'], {}, plan);
      const failed = await waitForStatus(handle, 'run_server to fail', settled, 120_000);
      failedAt = Date.now();
      t.diagnostic(
        `run_server failed after ${((failedAt - started) / 1000).toFixed(1)} s (ray_join_timeout 15s)`,
      );
      assert.equal(failed.stage, 'waiting-for-operator');
      assert.deepEqual(
        failed.failures.map((f) => [f.host, f.type]),
        [['p0', 'EngineDied']],
        describeFailures(failed.failures),
      );
      const message = failed.failures[0]!.message;
      t.diagnostic(message.split('\n').find((l) => l.includes('ERROR')) ?? message);
      assert.match(
        message,
        new RegExp(`has 1 of 2 nodes after 15 s; not joined: p0b \\(${p0b.replace(/\./g, '\\.')}\\)`),
      );
    } finally {
      setEngineKnobs(p0b, {}, sim.cluster.ctx);
    }

    const outcome = await handle.executeUpdate(retryFailedUpdate);
    assert.equal(outcome.ok, true, describeFailures(outcome.failures));
    const ready = await waitForStatus(handle, 'the retried deploy', settled, 120_000);
    t.diagnostic(`retryFailed → ready in ${((Date.now() - failedAt) / 1000).toFixed(1)} s`);
    assert.equal(ready.stage, 'ready', describeFailures(ready.failures));

    // The whole instance was launched again, head first; the other instances were not.
    const launches = activityRuns(await handle.fetchHistory())
      .filter((r) => r.type === 'launchEngines')
      .map((r) => r.summary.split(' · ')[0]!);
    const count = (h: string) => launches.filter((x) => x === h).length;
    assert.deepEqual(
      ['p0', 'p0b', 'p1', 'd0', 'd1'].map((h) => [h, count(h)]),
      [
        ['p0', 2],
        ['p0b', 2],
        ['p1', 1],
        ['d0', 1],
        ['d1', 1],
      ],
    );
    assert.ok(launches.lastIndexOf('p0') < launches.lastIndexOf('p0b'), 'the head before its member');
    const log = await onHost(sim.cluster.ctx, host(plan, 'p0').address, `cat '${headLog(plan)}'`);
    assert.match(log, /not joined: p0b[^]*the Ray group has all 2 nodes after \d+ s; starting the engine/);

    await assertServesBothInstances(plan);
    await recordHistory(handle, 'deploy-multihost-retry-relaunches-instance');
  });
});
