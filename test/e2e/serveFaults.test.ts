import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { setEngineKnobs } from '../../sim';
import type { Plan } from '../../src/plan/types';
import type { ClusterStatus, HostFailure } from '../../src/workflows/cluster/types';
import {
  describeFailures,
  onHost,
  quietRuntime,
  settled,
  stopAllEngines,
  terminateQuietly,
  waitForStatus,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * The engine simulator's refusals reach the operator (sim-2P1D on instance 32, real Temporal):
 * each case is a fresh cluster workflow running `run_server` on hosts whose containers and
 * ranktables an earlier run prepared, with every engine stopped first.
 */
const INSTANCE = 32;
const EXECUTOR = 'serve-faults-e2e';
/** A long engine budget: the failures below must come from the engine, not from waiting it out. */
const BUDGET = '10m';
const WITH_BUDGET = { engine_ready_timeout: BUDGET };

describe('engine refusals at run_server on sim-2P1D', { timeout: 240_000 }, () => {
  // Ahead of the fixture's before(): it must run before the test server touches the runtime.
  before(() => quietRuntime());
  // Containers and ranktables prepared once; every case runs run_server on them.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, {
    executor: EXECUTOR,
    tuning: 'e2e',
    extraVars: WITH_BUDGET,
    deploy: { phases: ['preflight', 'run_docker', 'ranktable'] },
  });

  /** A fresh copy each time: the cases change it. */
  const planWithBudget = (): Plan => sim.cluster.plan(WITH_BUDGET);
  const address = (plan: Plan, host: string) => plan.hosts.find((h) => h.name === host)!.address;

  /** Start run_server alone on the prepared hosts and wait until it settles. */
  async function runServer(plan: Plan): Promise<{ status: ClusterStatus; ms: number }> {
    await terminateQuietly(sim.handle);
    await stopAllEngines(sim.cluster.ctx, plan);
    const started = Date.now();
    const handle = await sim.deploy(['run_server'], {}, plan);
    const status = await waitForStatus(handle, 'run_server to settle', settled, 120_000);
    return { status, ms: Date.now() - started };
  }

  function failureOf(status: ClusterStatus, host: string): HostFailure {
    assert.equal(status.stage, 'waiting-for-operator', 'the phase failed and waits for the operator');
    assert.equal(status.currentPhase, 'run_server');
    const f = status.failures.find((x) => x.host === host);
    assert.ok(f, `a failure on ${host}; got: ${describeFailures(status.failures)}`);
    return f;
  }

  it('a wrong kv rank fails run_server with the engine’s own message', async (t) => {
    const plan = planWithBudget();
    // p1 is prefill group 1 of the global ranktable; tell its engine it is kv rank 0.
    plan.prefill[1]!.engine.kvRank = 0;
    const { status } = await runServer(plan);
    const f = failureOf(status, 'p1');
    t.diagnostic(`${f.type}: ${f.message}`);
    assert.equal(f.type, 'EngineDied');
    assert.match(
      f.message,
      new RegExp(`ValueError: kv_rank=0 but ${address(plan, 'p1').replace(/\./g, '\\.')} is prefill group 1`),
    );
    assert.deepEqual(
      status.failures.map((x) => x.host),
      ['p1'],
      'only the misconfigured host failed',
    );
  });

  it('an engine that dies at start fails the phase far inside its budget, with its log lines', async (t) => {
    const plan = planWithBudget();
    const d1 = address(plan, 'd1');
    setEngineKnobs(d1, { SIM_ENGINE_FAULT: 'die-at-start' }, sim.cluster.ctx);
    try {
      const { status, ms } = await runServer(plan);
      t.diagnostic(`run_server failed after ${(ms / 1000).toFixed(1)} s (budget ${BUDGET})`);
      const f = failureOf(status, 'd1');
      t.diagnostic(`${f.type}: ${f.message}`);
      assert.ok(ms < 20_000, `failed after ${ms} ms, far inside the ${BUDGET} budget`);
      assert.equal(f.type, 'EngineDied');
      // Its own start's lines: the log is appended to by every start, earlier errors are not news.
      assert.match(
        f.message,
        /exited while starting; last lines of \S+server_\d\.log:\n=== omni-deploy: starting DP rank \d+ on port \d+ at /,
      );
      assert.equal(f.message.match(/=== omni-deploy: starting/g)?.length, 1, 'only this start');
      assert.match(f.message, /SIM_ENGINE_FAULT=die-at-start/, 'the engine’s own log lines');
    } finally {
      setEngineKnobs(d1, {}, sim.cluster.ctx);
    }
  });

  it('a busy API port gives a PortBusy error naming the port', async (t) => {
    const plan = planWithBudget();
    const p1 = plan.hosts.find((h) => h.name === 'p1')!;
    const port = p1.apiServers[0]!.port;
    // Something else listening on p1's API port (host network: the engine container shares it).
    const pid = (
      await onHost(
        sim.cluster.ctx,
        p1.address,
        `mkdir -p /tmp/busy; setsid busybox httpd -f -p ${port} -h /tmp/busy </dev/null >/dev/null 2>&1 & echo $!`,
      )
    ).trim();
    try {
      await onHost(
        sim.cluster.ctx,
        p1.address,
        `bash -c 'for i in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null && exit 0; sleep 0.1; done; exit 1'`,
      );
      const { status } = await runServer(plan);
      const f = failureOf(status, 'p1');
      t.diagnostic(`${f.type}: ${f.message}`);
      assert.equal(f.type, 'PortBusy');
      assert.match(f.message, new RegExp(`\\bport ${port}\\b.*already in use`));
      assert.match(f.message, /p1/);
    } finally {
      await onHost(sim.cluster.ctx, p1.address, `kill ${pid}`).catch(() => undefined);
    }
  });
});
