import * as assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Client } from '@temporalio/client';
import type { SimEngine } from '../../sim';
import type { Plan } from '../../src/plan/types';
import { clusterWorkflowId } from '../../src/shared/ids';
import type { Phase } from '../../src/shared/phases';
import { executorTaskQueue } from '../../src/shared/taskQueues';
import type { DeployOptions } from '../../src/workflows/cluster/types';
import { runDeploy, type CliResult } from './cli';
import {
  startDeploy,
  startDeployEnv,
  testOptions,
  TEST_EXECUTOR,
  waitForStatus,
  type DeployEnv,
  type DeployHandle,
} from './deploy';
import { e2eOptions, startInProcessWorker } from './serve';
import { upTestCluster, type TestCluster } from './simCluster';
import { startWorkerProcess, type WorkerProcess } from './workerProcess';

export interface SimDeployOptions {
  /** Devices per simulated host (2). */
  devices?: number;
  /** What `docker` is on the hosts; default OMNI_SIM_ENGINE, else podman (sim/containerEngine.ts). */
  engine?: SimEngine;
  /** Extra vars (`-e`) of `plan`, and so of the deploy in `before()` and of `deploy()`. */
  extraVars?: Record<string, string>;
  /**
   * Who runs the workflows and activities: the production worker set inside the test process
   * (default), `deploy worker` as a process of its own (with `workerArgs`), or nobody (the test
   * starts its own, e.g. with `startWorker`).
   */
  workers?: 'in-process' | 'process' | 'none';
  /** `deploy worker`'s arguments (`--executor <executor>`); `[]` for its defaults, as `deploy start` has. */
  workerArgs?: string[];
  /**
   * The executor the workers serve and the deploy options name (TEST_EXECUTOR): a file that
   * always had an executor of its own keeps it, so its executor steps stay on the same task queue.
   */
  executor?: string;
  /**
   * The deploy options' tuning: `testOptions` (2 min per attempt, retries ≤ 1 s apart) or, for
   * the serving tests, `e2eOptions` (10 min per attempt, retries ≤ 2 s apart).
   */
  tuning?: 'test' | 'e2e';
  /**
   * A deploy in `before()`, waited for until ready (a failure names the hosts' errors): the
   * phases and the options over the tuning's.
   */
  deploy?: { phases: Phase[]; options?: Partial<DeployOptions> };
}

/**
 * What an e2e file works on, filled in by `before()`: the simulated cluster, the Temporal test
 * server, the workers and (when asked for) the deployed cluster's workflow.
 */
export interface SimDeploy {
  readonly cluster: TestCluster;
  readonly plan: Plan;
  readonly client: Client;
  /** The Temporal server's address; `cliEnv` points `bin/deploy` at it. */
  readonly address: string;
  readonly cliEnv: NodeJS.ProcessEnv;
  /** The `deploy worker` process of `before()` (`workers: 'process'`). */
  readonly worker: WorkerProcess;
  /** The cluster workflow of the deploy in `before()`, or the last one `deploy()` or `adopt()` gave. */
  readonly handle: DeployHandle;
  /** `bin/deploy` against this file's server, as an operator runs it. */
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** Starts the cluster workflow for `plan` (this cluster's Plan by default) and keeps its handle. */
  deploy(phases: Phase[], options?: Partial<DeployOptions>, plan?: Plan): Promise<DeployHandle>;
  /**
   * The cluster workflow `bin/deploy start` started for a cluster (this plan's by default): its
   * handle (latest run), kept like `deploy()`'s so that `after()` terminates it.
   */
  adopt(cluster?: string): DeployHandle;
  /**
   * One more `deploy worker` process (`workerArgs` by default; `checkout` runs another build's),
   * e.g. the one that replaces a killed worker; stopped in `after()`.
   */
  startWorker(args?: string[], opts?: { checkout?: string; startTimeoutMs?: number }): Promise<WorkerProcess>;
  /** Undone in `after()`, before the workers, server and cluster go (last added, first run). */
  onTeardown(fn: () => Promise<unknown>): void;
}

/**
 * The e2e files' one set-up: in `before()` a simulated cluster of a shipped layout on its own sim
 * instance, a Temporal test server, workers, and optionally a deploy that must reach ready; in
 * `after()` everything undone in reverse, each step even when an earlier one failed. Call it at
 * the top of a `describe`; a file's own `before()` registered ahead of it runs first.
 */
export function useSimDeploy(
  layout: 'sim-2P1D' | 'sim-4P1D' | 'sim-multihost',
  instance: number,
  opts: SimDeployOptions = {},
): SimDeploy {
  const executor = opts.executor ?? TEST_EXECUTOR;
  const workerArgs = opts.workerArgs ?? ['--executor', executor];
  let cluster: TestCluster | undefined;
  let denv: DeployEnv | undefined;
  let inProcess: { stop: () => Promise<void> } | undefined;
  let worker: WorkerProcess | undefined;
  let handle: DeployHandle | undefined;
  let plan: Plan | undefined;
  const teardown: (() => Promise<unknown>)[] = [];
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`useSimDeploy: no ${what}`);
    return value;
  };
  const early = '(before() did not get that far)';

  const fixture: SimDeploy = {
    get cluster() {
      return need(cluster, `cluster ${early}`);
    },
    get plan() {
      return need(plan, `plan ${early}`);
    },
    get client() {
      return need(denv, `Temporal server ${early}`).client;
    },
    get address() {
      return need(denv, `Temporal server ${early}`).address;
    },
    get cliEnv() {
      return { TEMPORAL_ADDRESS: fixture.address, TEMPORAL_NAMESPACE: 'default', NO_COLOR: '1' };
    },
    get worker() {
      return need(worker, `worker process (workers: 'process') ${early}`);
    },
    get handle() {
      return need(handle, 'cluster workflow yet (no deploy in before(), deploy() or adopt())');
    },
    cli: (args, timeoutMs = 600_000) => runDeploy(args, fixture.cliEnv, timeoutMs),
    async deploy(phases, options = {}, deployed = fixture.plan) {
      const tuned =
        opts.tuning === 'e2e'
          ? e2eOptions(phases, executor, options)
          : testOptions(phases, { executorTaskQueue: executorTaskQueue(executor), ...options });
      handle = await startDeploy(fixture.client, deployed, tuned);
      return handle;
    },
    adopt(name = fixture.plan.cluster) {
      handle = fixture.client.workflow.getHandle(clusterWorkflowId(name));
      return handle;
    },
    async startWorker(args = workerArgs, workerOpts = {}) {
      const w = await startWorkerProcess(fixture.address, args, workerOpts);
      teardown.push(() => w.stop());
      return w;
    },
    onTeardown: (fn) => teardown.push(fn),
  };

  before(async () => {
    // One at a time: each is heavy on a 2-core machine.
    cluster = await upTestCluster(layout, instance, {
      ...(opts.devices ? { devices: opts.devices } : {}),
      ...(opts.engine ? { engine: opts.engine } : {}),
    });
    plan = cluster.plan(opts.extraVars);
    // The server alone, then the worker set for `executor` (startDeployEnv's own workers serve
    // TEST_EXECUTOR only).
    denv = await startDeployEnv({ workers: false });
    if ((opts.workers ?? 'in-process') === 'in-process') {
      inProcess = await startInProcessWorker(denv.env, executor);
    } else if (opts.workers === 'process') {
      worker = await startWorkerProcess(denv.address, workerArgs);
    }
    if (opts.deploy) {
      const started = await fixture.deploy(opts.deploy.phases, opts.deploy.options);
      const s = await waitForStatus(
        started,
        (x) => x.stage === 'ready' || x.stage === 'waiting-for-operator',
        300_000,
        'the deploy in before()',
      );
      assert.equal(s.stage, 'ready', JSON.stringify(s.failures));
    }
  });

  after(async () => {
    const steps = [
      ...teardown.reverse(),
      async () => handle?.terminate('test done'),
      // As startDeployEnv's stop: how the worker set's run ended shows in the tests, not here.
      async () => inProcess?.stop().catch(() => undefined),
      async () => worker?.stop(),
      async () => denv?.stop(),
      async () => cluster?.down(),
    ];
    let first: unknown;
    for (const step of steps) {
      try {
        await step();
      } catch (err) {
        // A workflow that ended already cannot be terminated; anything else is reported.
        if (!/already completed|not found/i.test(String(err))) first ??= err;
      }
    }
    if (first) throw first;
  });

  return fixture;
}
