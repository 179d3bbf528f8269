import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { sshOptions, type SimContext } from '../../sim';
import type { PlanInput } from '../../src/plan/compact';
import type { Plan } from '../../src/plan/types';
import type { Phase } from '../../src/shared/phases';
import { clusterWorkflowId } from '../../src/shared/ids';
import { DEPLOY_CLUSTER } from '../../src/shared/searchAttributes';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../src/shared/taskQueues';
import { createWorkers } from '../../src/worker';
import { deployCluster } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/cluster/messages';
import type { ClusterStatus, DeployOptions } from '../../src/workflows/cluster/types';
import { startTestServer, workflowBundle } from './temporal';
import { waitFor } from './waitFor';

/**
 * Shared code of the cluster workflow's end-to-end tests: a real Temporal test server, workers
 * (in this process, or `deploy worker` processes the test starts itself), deploy options tuned
 * so failures and resumes take seconds, status polling, ssh into sim hosts and history reading.
 */

/** The executor name the tests' workers serve (its queue carries sync_code). */
export const TEST_EXECUTOR = 'e2e-executor';

export type DeployHandle = WorkflowHandle<typeof deployCluster>;

/**
 * Short timeouts and retries: a lost worker is noticed after 5 s, a transient failure is retried
 * after 200 ms, and a host that stays down fails its step after three attempts.
 */
export function testOptions(phases: Phase[], overrides: Partial<DeployOptions> = {}): DeployOptions {
  return {
    phases,
    parallelism: 50,
    executorTaskQueue: executorTaskQueue(TEST_EXECUTOR),
    activity: {
      startToCloseTimeout: '2 minutes',
      heartbeatTimeout: '5 seconds',
      retry: {
        initialInterval: '200ms',
        backoffCoefficient: 2,
        maximumInterval: '1 second',
        maximumAttempts: 3,
      },
    },
    maxHistoryEvents: 10_000,
    ...overrides,
  };
}

export interface DeployEnv {
  env: TestWorkflowEnvironment;
  client: Client;
  address: string;
  /** Stops the in-process workers (if any) and so their SSH connections, tears the server down. */
  stop: () => Promise<void>;
}

/**
 * A test server and, unless `workers: false`, the workers one `deploy worker` would run (shared
 * queue + TEST_EXECUTOR's queue) in this process. Every step that succeeded is undone by `stop`,
 * also when a later one throws.
 */
export async function startDeployEnv(opts: { workers?: boolean } = {}): Promise<DeployEnv> {
  const env = await startTestServer();
  let workers: Worker[] = [];
  let running: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    // The worker set closes its SSH connections once its workers have stopped.
    await running.catch(() => undefined);
    await env.teardown();
  };
  if (opts.workers !== false) {
    try {
      const set = await createWorkers({
        connection: env.nativeConnection,
        namespace: 'default',
        executor: TEST_EXECUTOR,
        workflowBundle: await workflowBundle(),
      });
      workers = set.workers;
      running = set.run();
    } catch (err) {
      await stop();
      throw err;
    }
  }
  return { env, client: env.client, address: env.address, stop };
}

/**
 * Start the cluster workflow as `deploy start` does (ID `cluster/<name>`, shared queue), with a
 * full Plan (as older clients did) or the compact one `deploy start` sends. `taskQueue` replaces
 * the shared queue for tests on a Temporal server other test files use at the same time.
 */
export function startDeploy(
  client: Client,
  plan: PlanInput,
  options: DeployOptions,
  taskQueue = SHARED_TASK_QUEUE,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof deployCluster>> {
  return client.workflow.start(deployCluster, {
    workflowId: clusterWorkflowId(plan.cluster),
    taskQueue,
    args: [{ plan, options }],
    typedSearchAttributes: [{ key: DEPLOY_CLUSTER, value: plan.cluster }],
  });
}

/** Poll the status query until `predicate` holds; the error shows the last status seen. */
export async function waitForStatus(
  handle: WorkflowHandle,
  predicate: (s: ClusterStatus) => boolean,
  timeoutMs = 60_000,
  what = 'the status',
): Promise<ClusterStatus> {
  let last: ClusterStatus | undefined;
  return waitFor(
    async () => {
      last = await handle.query(statusQuery).catch(() => last);
      return last && predicate(last) ? last : undefined;
    },
    {
      timeout: timeoutMs,
      // A query costs ~16 ms of CPU (client, server, worker): at 150 ms a waiting file spent a
      // tenth of a core on asking.
      interval: 100,
      maxInterval: 500,
      what,
      detail: () => `last status: ${JSON.stringify(last)}`,
    },
  );
}

// ---------------------------------------------------------------------------------------------
// sim hosts over OpenSSH (strict host-key checking, the sim's client key)

/** A shell script on a simulated host over ssh (the host itself, not a container); rejects on failure. */
export async function ssh(
  ctx: SimContext,
  address: string,
  script: string,
  timeoutMs = 30_000,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshOptions(ctx), address, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`ssh ${address} ${script}: exit ${code}: ${err}${out}`));
    });
  });
}

export interface HostContainer {
  id: string;
  name: string;
  running: boolean;
  specHash: string;
}

/**
 * Every container on a sim machine (running or not), with its full ID and spec-hash label. From
 * `inspect`, whose fields podman and Docker share (`ps --format` differs: podman's .Labels is a
 * map, Docker's a string); Docker's .Name starts with "/".
 */
export async function containersOn(ctx: SimContext, address: string): Promise<HostContainer[]> {
  const format =
    '{{.Id}}|{{.Name}}|{{.State.Running}}|{{with .Config.Labels}}{{index . "omni-deploy.spec-hash"}}{{end}}';
  const out = await ssh(
    ctx,
    address,
    `ids=$(docker ps -aq --no-trunc); [ -z "$ids" ] || docker inspect --format '${format}' $ids`,
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [id = '', name = '', running = '', specHash = ''] = line.split('|');
      return { id, name: name.replace(/^\//, ''), running: running === 'true', specHash };
    });
}

/** Containers of every inventory host, keyed `<host>` → the container its plan names (or undefined). */
export async function planContainers(
  ctx: SimContext,
  plan: Plan,
): Promise<Record<string, HostContainer | undefined>> {
  const byAddress = new Map<string, HostContainer[]>();
  for (const address of new Set(plan.hosts.map((h) => h.address))) {
    byAddress.set(address, await containersOn(ctx, address));
  }
  return Object.fromEntries(
    plan.hosts.map((h) => [h.name, byAddress.get(h.address)!.find((c) => c.name === h.container.name)]),
  );
}

/** All containers on the plan's machines, whatever their names. */
export async function allContainers(ctx: SimContext, plan: Plan): Promise<HostContainer[]> {
  const out: HostContainer[] = [];
  for (const address of new Set(plan.hosts.map((h) => h.address)))
    out.push(...(await containersOn(ctx, address)));
  return out;
}

// ---------------------------------------------------------------------------------------------
// history

export interface ActivityRun {
  type: string;
  /** The Web UI summary, "<host> · <phase>". */
  summary: string;
  /** Attempt of the last start recorded (retries of one scheduled activity share one event). */
  attempt: number;
  outcome: 'completed' | 'failed' | 'timed-out' | 'cancelled' | 'open';
  failureType?: string;
  /** The activity's (first) argument, decoded. */
  input?: unknown;
}

/** One entry per ActivityTaskScheduled event of the history, in order. */
export function activityRuns(history: temporal.api.history.v1.IHistory): ActivityRun[] {
  const byId = new Map<string, ActivityRun>();
  const runs: ActivityRun[] = [];
  for (const e of history.events ?? []) {
    const id = String(e.eventId);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const summaryPayload = e.userMetadata?.summary;
      const run: ActivityRun = {
        type: s.activityType?.name ?? '',
        summary: summaryPayload ? defaultPayloadConverter.fromPayload<string>(summaryPayload) : '',
        attempt: 0,
        outcome: 'open',
        input: s.input?.payloads?.[0] ? defaultPayloadConverter.fromPayload(s.input.payloads[0]) : undefined,
      };
      byId.set(id, run);
      runs.push(run);
    }
    const started = e.activityTaskStartedEventAttributes;
    if (started) byId.get(String(started.scheduledEventId))!.attempt = started.attempt ?? 1;
    const done = e.activityTaskCompletedEventAttributes;
    if (done) byId.get(String(done.scheduledEventId))!.outcome = 'completed';
    const failed = e.activityTaskFailedEventAttributes;
    if (failed) {
      const run = byId.get(String(failed.scheduledEventId))!;
      run.outcome = 'failed';
      run.failureType = failed.failure?.cause?.applicationFailureInfo?.type ?? undefined;
      run.failureType ??= failed.failure?.applicationFailureInfo?.type ?? undefined;
    }
    const timedOut = e.activityTaskTimedOutEventAttributes;
    if (timedOut) byId.get(String(timedOut.scheduledEventId))!.outcome = 'timed-out';
    const cancelled = e.activityTaskCanceledEventAttributes;
    if (cancelled) byId.get(String(cancelled.scheduledEventId))!.outcome = 'cancelled';
  }
  return runs;
}

/**
 * A history as searchable text: every payload's bytes decoded as UTF-8 (JSON.stringify alone
 * would print them as byte arrays, where no string could ever be found).
 */
export function historyText(history: temporal.api.history.v1.IHistory): string {
  // Protobuf messages print their bytes as base64 in JSON: decode them first, depth-first.
  const decode = (value: unknown): unknown => {
    if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
    if (Array.isArray(value)) return value.map(decode);
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decode(v)]));
    }
    return value;
  };
  return JSON.stringify(decode(history));
}

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');

/**
 * With RECORD_HISTORIES=1, write the workflow's history to test/histories/<name>.json for the
 * replay test (test/workflow/replay.test.ts). Re-record after a deliberate workflow change that is
 * behind `patched()`, and keep the old files: they are what running workflows look like.
 *
 * The JSON is protobufjs' object form of the History message (longs and enums as strings, bytes
 * base64), read back with `History.fromObject`. Not the SDK's historyToJSON/historyFromJSON: in
 * this install @temporalio/common and @temporalio/proto each carry their own protobufjs copy, and
 * its protojson refuses the other copy's types ("type must be a Type").
 */
export async function recordHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  fs.mkdirSync(HISTORIES_DIR, { recursive: true });
  fs.writeFileSync(
    path.join(HISTORIES_DIR, `${name}.json`),
    JSON.stringify(historyToObject(history), null, 1) + '\n',
  );
}

export function historyToObject(history: temporal.api.history.v1.IHistory): unknown {
  return temporal.api.history.v1.History.toObject(temporal.api.history.v1.History.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
  });
}

export function historyFromObject(json: unknown): temporal.api.history.v1.History {
  return temporal.api.history.v1.History.fromObject(json as Record<string, unknown>);
}
