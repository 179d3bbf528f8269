import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { powerOffHost, rebootHost } from '../../sim';
import { selectPhases } from '../../src/shared/phases';
import { eventsQuery, statusQuery } from '../../src/workflows/cluster/messages';
import type { HealthOptions } from '../../src/workflows/cluster/types';
import {
  startDeploy,
  startDeployEnv,
  TEST_EXECUTOR,
  testOptions,
  type DeployEnv,
  type DeployHandle,
} from '../helpers/deploy';
import {
  formatResult,
  killDecodeEngine,
  measureFault,
  poll,
  powerOff,
  servingAgain,
  stopContainer,
  type FaultContext,
} from '../helpers/faults';
import { mixedCells, runningCells } from '../helpers/cells';
import { freePort } from '../helpers/ports';
import { dashboardMetrics } from '../helpers/dashboard';
import { waitFor } from '../helpers/waitFor';
import { upTestCluster, type TestCluster } from '../helpers/simCluster';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';

const INSTANCE = 51;
/** Probes every 2 s, a host that does not answer in 3 s is unreachable, repairs 3 times. */
const HEALTH: HealthOptions = {
  intervalMs: 2000,
  probeTimeoutMs: 3000,
  maxWatchMs: 600_000,
  heal: true,
  healAttempts: 3,
  healBackoffMs: [2000, 4000],
};
const DETECT_WITHIN_MS = 15_000;
/** The whole budget (3 attempts, 2 s and 4 s apart) fits several times into this. */
const PAST_BUDGET_MS = 30_000;
const SERVING_AFTER_REBOOT_MS = 45_000;

/**
 * The cluster keeps itself serving (sim-2P1D on instance 51: two prefill instances p0 and p1, a
 * decode instance over d0+d1, the proxy c0 on p0's machine), with load running through the proxy
 * during every fault and a `deploy worker` process serving Prometheus metrics.
 */
describe('self-healing on the simulated cluster', () => {
  let cluster: TestCluster;
  let deploy: DeployEnv;
  let worker: WorkerProcess;
  let handle: DeployHandle;
  let f: FaultContext;
  let metricsPort: number;
  const results: string[] = [];

  /** `deploy worker` serving Prometheus metrics on the test's port. */
  const startMetricsWorker = () =>
    startWorkerProcess(deploy.address, ['--executor', TEST_EXECUTOR, '--metrics-port', String(metricsPort)]);

  before(async () => {
    cluster = await upTestCluster('sim-2P1D', INSTANCE);
    deploy = await startDeployEnv({ workers: false });
    metricsPort = await freePort();
    worker = await startMetricsWorker();
    const plan = cluster.plan();
    handle = await startDeploy(deploy.client, plan, testOptions(selectPhases(), { health: HEALTH }));
    await poll(
      handle,
      'the deploy',
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
      300_000,
    );
    f = {
      ctx: cluster.ctx,
      plan,
      handle,
      url: `http://${plan.proxy.address}:${plan.proxy.listenPort}/v1/completions`,
      model: plan.settings.served_model_name,
    };
  });

  after(async () => {
    for (const line of results) console.log(line);
    await handle?.terminate().catch(() => undefined);
    await worker?.stop();
    await deploy?.stop();
    await cluster?.down();
  });

  it('deploys and the watch finds the cluster serving', async () => {
    const s = await poll(handle, 'a first health verdict', (x) => x.health !== undefined, 60_000);
    assert.equal(s.stage, 'ready', JSON.stringify(s.failures));
    assert.equal(s.health!.state, 'serving', JSON.stringify(s.health));
  });

  it('a killed decode engine: reported naming the rank, the decode instance repaired with no command', async () => {
    const r = await measureFault(f, killDecodeEngine('d1'));
    results.push(formatResult(r));
    assert.ok(r.detectMs <= DETECT_WITHIN_MS, `detected after ${r.detectMs} ms`);
    assert.ok(r.servedAfter, 'requests succeed again');
  });

  it('a container stopped by hand is started again', async () => {
    const r = await measureFault(f, stopContainer('p1', 'prefill-1'));
    results.push(formatResult(r));
    assert.ok(r.detectMs <= DETECT_WITHIN_MS, `detected after ${r.detectMs} ms`);
    assert.ok(r.servedAfter);
  });

  it('a prefill host powered off: requests go on through the other instance; after its reboot it is back', async () => {
    const r = await measureFault(f, powerOff('p1', 'prefill-1'));
    results.push(formatResult(r));
    assert.ok(r.detectMs <= DETECT_WITHIN_MS, `detected after ${r.detectMs} ms`);
    // The other prefill instance serves throughout: failures are what was in flight or tried
    // on p1 before nginx and then the watch took it out — a handful, never most of the load.
    assert.ok(r.failures <= Math.max(10, r.load.sent * 0.1), `${r.failures} of ${r.load.sent} failed`);
    assert.ok(r.servedAfter);
    const body = await (await fetch(f.url.replace('/v1/completions', '/health'))).text();
    const health = JSON.parse(body) as { prefill: { healthy: string[] } };
    const events = await handle.query(eventsQuery);
    assert.equal(
      health.prefill.healthy.length,
      2,
      `both prefill instances are in the proxy again: ${body}\n${events.map((e) => `${e.kind} ${e.unit ?? ''} ${e.result ?? ''} ${e.message}`).join('\n')}\n${JSON.stringify((await handle.query(statusQuery)).table.c0)}`,
    );
  });

  it('a decode host powered off: down and unreachable within seconds, the proxy says so; serves again after reboot', async () => {
    const healthUrl = f.url.replace('/v1/completions', '/health');
    let proxyDown = false;
    const r = await measureFault(f, {
      ...powerOff('d1', 'decode-0'),
      afterDetect: async ({ ctx, handle: h }) => {
        const s = await poll(h, 'cluster down', (x) => x.health?.state === 'down', 30_000);
        assert.match(s.health!.cause!, /d1 .*(no answer|route|reach|timed out)/i);
        proxyDown = (await fetch(healthUrl)).status === 503;
        await rebootHost('d1', ctx);
      },
    });
    results.push(formatResult(r));
    assert.ok(r.detectMs <= DETECT_WITHIN_MS, `detected after ${r.detectMs} ms`);
    assert.ok(proxyDown, "the proxy's /health was not ok while decode was down");
    assert.ok(r.servedAfter);
  });

  /**
   * Powers `host` off until well past the repair's whole attempt budget, polling all along that
   * the repair of `unit` still waits for the host (not for the operator), then reboots it: no
   * attempt spent, a cause in every failure, serving again with no command. Returns the time
   * from the reboot to serving.
   */
  async function keptOffPastBudget(host: string, unit: string): Promise<number> {
    await poll(handle, 'serving', servingAgain, 120_000);
    const eventsBefore = (await handle.query(eventsQuery)).length;
    await powerOffHost(host, cluster.ctx);
    const waiting = await poll(
      handle,
      `the repair waiting for ${host}`,
      (s) => new RegExp(`waiting for ${host} to answer`).test(s.operation?.what ?? ''),
      120_000,
    );
    assert.equal(waiting.stage, 'healing');
    const offUntil = Date.now() + PAST_BUDGET_MS;
    while (Date.now() < offUntil) {
      const still = await handle.query(statusQuery);
      assert.equal(
        still.stage,
        'healing',
        `still waiting for ${host}, not for the operator: ${JSON.stringify(still.failures)}`,
      );
      await new Promise((r) => setTimeout(r, 1000));
    }
    await rebootHost(host, cluster.ctx);
    const rebootedAt = Date.now();
    await poll(handle, 'serving after the reboot', servingAgain, 120_000);
    const backMs = Date.now() - rebootedAt;
    results.push(
      `${unit}: host ${host} off ${PAST_BUDGET_MS / 1000} s past the attempt budget: serving ${(backMs / 1000).toFixed(1)} s after its reboot, no command`,
    );
    const events = (await handle.query(eventsQuery)).slice(eventsBefore);
    const heal = events.filter((e) => e.kind === 'heal' && e.unit === unit);
    const said = heal.map((e) => e.message).join('\n');
    assert.ok(
      heal.some(
        (e) =>
          e.result === 'waiting' &&
          new RegExp(
            `waits for ${host} to answer \\(${host} · \\w+: ConnectionError: .+\\); no attempt spent`,
          ).test(e.message),
      ),
      said,
    );
    assert.ok(!heal.some((e) => e.result === 'exhausted'), said);
    for (const e of heal.filter((x) => x.result === 'failed'))
      assert.doesNotMatch(e.message, /\(\)/, 'a failure names its cause');
    return backMs;
  }

  it('a prefill host kept off past the attempt budget: the repair waits for it, spends no attempt, and serves again after the reboot with no command', async () => {
    const backMs = await keptOffPastBudget('p1', 'prefill-1');
    assert.ok(backMs <= SERVING_AFTER_REBOOT_MS, `serving ${backMs} ms after the reboot`);
  });

  it('a decode member kept off past the attempt budget: the same, for the decode instance over d0 and d1', async () => {
    const backMs = await keptOffPastBudget('d1', 'decode-0');
    assert.ok(backMs <= SERVING_AFTER_REBOOT_MS, `serving ${backMs} ms after the reboot`);
  });

  it('after the repairs no cell of the status table is left running, and none mixes two runs', async () => {
    const status = await poll(handle, 'serving', servingAgain, 60_000);
    assert.deepEqual(runningCells(status), []);
    assert.deepEqual(mixedCells(status), []);
  });

  it('history stays flat while nothing changes', async () => {
    await poll(handle, 'serving', servingAgain, 60_000);
    await new Promise((r) => setTimeout(r, 3000));
    const before = (await handle.describe()).historyLength;
    await new Promise((r) => setTimeout(r, 12_000)); // six probe rounds
    const after = (await handle.describe()).historyLength;
    assert.equal(after, before, `history grew from ${before} to ${after} events without a change`);
  });

  it('the worker serves health and repairs as Prometheus metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const cluster = f.plan.cluster;
    assert.match(text, new RegExp(`omni_deploy_cluster_health\\{[^}]*cluster="${cluster}"[^}]*\\} 0`));
    assert.match(text, new RegExp(`omni_deploy_unit_health\\{[^}]*unit="decode-0"`));
    assert.match(text, /omni_deploy_repairs[^{]*\{[^}]*result="ok"/);
    assert.match(text, /temporal_workflow_task/, "the SDK's own metrics are there too");
    // The cluster's load, per unit and API server, from the engines' vLLM metrics (read by the
    // health probe because this worker exports metrics).
    for (const unit of ['prefill-0', 'prefill-1', 'decode-0'])
      assert.match(
        text,
        new RegExp(
          `omni_deploy_engine_requests_running\\{(?=[^}]*cluster="${cluster}")(?=[^}]*unit="${unit}")`,
        ),
        unit,
      );
    assert.match(
      text,
      new RegExp(`omni_deploy_engine_kv_cache_usage\\{(?=[^}]*dp_rank="3")(?=[^}]*unit="decode-0")`),
    );
    assert.match(text, /omni_deploy_engine_request_rate\{/);
    // Every worker metric the Grafana dashboard's panels query is in this scrape.
    for (const name of dashboardMetrics().worker)
      assert.match(text, new RegExp(`^${name}\\{`, 'm'), `the dashboard queries ${name}`);
  });

  it('a worker restarted with --metrics-port: its first scrape has the health gauges; the watch moved, no attempt failed', async () => {
    await poll(handle, 'serving', servingAgain, 60_000);
    const eventsBefore = (await handle.query(eventsQuery)).length;
    // As an operator restarts it: `deploy worker --stop` (SIGTERM), then a new `deploy worker`.
    assert.equal(await worker.stop(), 0, worker.output());
    worker = await startMetricsWorker();
    const startedAt = Date.now();
    let first: string | undefined;
    await waitFor(
      async () => {
        first = await fetch(`http://127.0.0.1:${metricsPort}/metrics`)
          .then((r) => r.text())
          .catch(() => undefined);
        return first !== undefined;
      },
      { timeout: 90_000, interval: 100, what: 'the new worker to answer a scrape' },
    );
    console.log(`the new worker's metrics answered ${Date.now() - startedAt} ms after it connected`);
    const cluster = f.plan.cluster;
    assert.match(first!, new RegExp(`omni_deploy_cluster_health\\{[^}]*cluster="${cluster}"[^}]*\\} 0`));
    for (const unit of ['prefill-0', 'prefill-1', 'decode-0'])
      assert.match(first!, new RegExp(`omni_deploy_unit_health\\{[^}]*unit="${unit}"[^}]*\\} 0`), unit);
    assert.match(first!, new RegExp(`omni_deploy_host_ok\\{[^}]*host="d1"[^}]*\\} 1`));

    const moved = await waitFor(
      async () =>
        (await handle.query(eventsQuery))
          .slice(eventsBefore)
          .find((e) => /health watch moved to a new worker \(its worker shut down\)/.test(e.message)),
      { timeout: 30_000, interval: 250, what: 'the watch moved event' },
    );
    assert.ok(moved);
    const pending = (await handle.describe()).raw.pendingActivities ?? [];
    for (const a of pending)
      assert.equal(a.attempt ?? 1, 1, `${a.activityType?.name} is on attempt ${a.attempt}, not a retry`);
  });
});
