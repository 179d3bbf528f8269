import * as assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import type { SimContext } from '../../sim';
import type { Plan } from '../../src/plan/types';
import { selectPhases, type Phase } from '../../src/shared/phases';
import { clusterWorkflowId } from '../../src/shared/ids';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../src/shared/taskQueues';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createWorkers } from '../../src/worker';
import { deployCluster } from '../../src/workflows';
import type { ClusterStatus, DeployOptions, HostFailure } from '../../src/workflows/cluster/types';
import { ssh, waitForStatus as waitForDeployStatus } from './deploy';
import { workflowBundle } from './temporal';

/**
 * Shared pieces of the e2e tests that deploy onto a simulated cluster with the real Temporal
 * server: short activity tuning, an in-process worker, status polling, file and process reads
 * on the hosts, and completions through the proxy.
 */

/** Every phase a plain `deploy start` runs. */
export const ALL_PHASES: Phase[] = selectPhases();

/** Short tuning: a lost worker is noticed in 5 s, a failed step retried quickly, 3 attempts. */
export function e2eOptions(phases: Phase[], executor: string, overrides: Partial<DeployOptions> = {}) {
  const options: DeployOptions = {
    phases,
    parallelism: 50,
    executorTaskQueue: executorTaskQueue(executor),
    activity: {
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: '5 seconds',
      retry: {
        initialInterval: '200ms',
        backoffCoefficient: 2,
        maximumInterval: '2 seconds',
        maximumAttempts: 3,
      },
    },
    maxHistoryEvents: 10_000,
    ...overrides,
  };
  return options;
}

/**
 * Only errors from the SDK in the test output (activity failures the tests provoke are expected).
 * Must run before anything in the process touches the Temporal runtime (e.g. startTestServer).
 */
export function quietRuntime(): void {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
  } catch {
    // already installed or in use: keep it
  }
}

/** The production worker set (shared queue + one executor queue) inside the test process. */
export async function startInProcessWorker(
  env: TestWorkflowEnvironment,
  executor: string,
): Promise<{ stop: () => Promise<void> }> {
  const { workers, run } = await createWorkers({
    connection: env.nativeConnection,
    namespace: 'default',
    executor,
    workflowBundle: await workflowBundle(),
  });
  const running = run();
  return {
    stop: async () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running;
    },
  };
}

export type ClusterHandle = WorkflowHandle<typeof deployCluster>;

/** Start the cluster workflow the way `deploy start` does (ID `cluster/<name>`, shared queue). */
export async function startDeploy(
  client: Client,
  plan: Plan,
  options: DeployOptions,
): Promise<ClusterHandle> {
  return client.workflow.start(deployCluster, {
    workflowId: clusterWorkflowId(plan.cluster),
    taskQueue: SHARED_TASK_QUEUE,
    args: [{ plan, options }],
  });
}

/** End a cluster workflow without cleanup (the test tears the simulated hosts down anyway). */
export async function terminateQuietly(handle: ClusterHandle | undefined): Promise<void> {
  if (!handle) return;
  await handle.terminate('test done').catch(() => undefined);
}

/** Poll the status until `predicate` holds; `what` names the wait in the error. */
export function waitForStatus(
  handle: ClusterHandle,
  what: string,
  predicate: (s: ClusterStatus) => boolean,
  timeoutMs = 60_000,
): Promise<ClusterStatus> {
  return waitForDeployStatus(handle, predicate, timeoutMs, what);
}

/** Settled: every planned phase done (ready) or one waiting for the operator. */
export const settled = (s: ClusterStatus) => s.stage === 'ready' || s.stage === 'waiting-for-operator';

export function describeFailures(failures: HostFailure[]): string {
  return failures.map((f) => `${f.host}/${f.phase} ${f.type}: ${f.message}`).join('\n');
}

/** A shell script on a simulated host over ssh (the host itself, not a container). */
export const onHost = ssh;

/** `sha256 path` for every JSON file under `root` on a host (empty when the folder is absent). */
export async function jsonChecksums(
  ctx: SimContext,
  host: string,
  root: string,
): Promise<Map<string, string>> {
  const out = await onHost(
    ctx,
    host,
    `[ -d '${root}' ] || exit 0; cd '${root}' && find . -type f -name '*.json' | sort | xargs -r sha256sum`,
  );
  return new Map(
    out
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const [sum, file] = l.split(/\s+/);
        return [file!.replace(/^\.\//, ''), sum!];
      }),
  );
}

/** Modification time in nanoseconds (as text) and inode of a file on a host. */
export async function fileStamp(ctx: SimContext, host: string, file: string): Promise<string> {
  return (await onHost(ctx, host, `stat -c '%.9Y %i' '${file}'`)).trim();
}

/** Activity type of every completed activity in a workflow history, in order. */
export function completedActivities(history: temporal.api.history.v1.IHistory): string[] {
  const scheduled = new Map<string, string>();
  const done: string[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const c = e.activityTaskCompletedEventAttributes;
    if (c) done.push(scheduled.get(String(c.scheduledEventId)) ?? '?');
  }
  return done;
}

// ---------------------------------------------------------------------------------------------
// the engines and the proxy

export interface Endpoint {
  host: string;
  port: number;
  kv_rank?: number;
  dp_rank?: number;
}

export interface OmniSim {
  role: string;
  request_id: string;
  cluster_id: string;
  prefill: Endpoint | null;
  decode: Endpoint | null;
}

export interface CompletionResult {
  status: number;
  /** The whole answer text (non-streamed: the JSON; streamed: the concatenated tokens). */
  text: string;
  omniSim: OmniSim | undefined;
  /** Streamed answers: how many `data:` chunks came before `[DONE]`. */
  chunks: number;
  done: boolean;
  contentType: string;
  requestId: string;
  raw: string;
}

interface Choice {
  text?: string;
  message?: { content?: string };
  delta?: { content?: string };
}

/** One request through the proxy, from the test process, read to the end. */
export async function complete(
  baseUrl: string,
  kind: 'completions' | 'chat',
  body: Record<string, unknown>,
): Promise<CompletionResult> {
  const requestId = `e2e-${randomUUID()}`;
  const res = await fetch(`${baseUrl}/v1/${kind === 'chat' ? 'chat/completions' : 'completions'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const raw = await res.text();
  const contentType = res.headers.get('content-type') ?? '';
  const pieceOf = (c: Choice | undefined) => c?.text ?? c?.message?.content ?? c?.delta?.content ?? '';
  if (!body.stream) {
    let json: { choices?: Choice[]; omni_sim?: OmniSim } = {};
    try {
      json = JSON.parse(raw) as typeof json;
    } catch {
      // not JSON: an error page; the status tells
    }
    return {
      status: res.status,
      text: pieceOf(json.choices?.[0]),
      omniSim: json.omni_sim,
      chunks: 0,
      done: false,
      contentType,
      requestId,
      raw,
    };
  }
  let text = '';
  let omniSim: OmniSim | undefined;
  let chunks = 0;
  let done = false;
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const data = line.slice('data: '.length).trim();
    if (data === '[DONE]') {
      done = true;
      continue;
    }
    const chunk = JSON.parse(data) as { choices?: Choice[]; omni_sim?: OmniSim };
    chunks++;
    text += pieceOf(chunk.choices?.[0]);
    omniSim ??= chunk.omni_sim;
  }
  return { status: res.status, text, omniSim, chunks, done, contentType, requestId, raw };
}

/**
 * The answer passed prefill then decode: a decode served it (with kv_transfer_params it accepted
 * as coming from a prefill of this cluster's global ranktable: the decode refuses anything else
 * with a 400), the prefill it names is one of the plan's prefill API servers, the decode one of
 * its decode servers, and the text starts with the engine's `[prefill … -> decode …]` token.
 */
export function assertPrefillThenDecode(
  plan: Plan,
  r: CompletionResult,
): { prefill: string; decode: string } {
  assert.equal(r.status, 200, `completion answered ${r.status}: ${r.raw.slice(0, 500)}`);
  const sim = r.omniSim;
  assert.ok(sim, `no omni_sim in the answer: ${r.raw.slice(0, 500)}`);
  assert.equal(sim.role, 'decode', 'the answer comes from a decode server');
  assert.equal(sim.request_id, r.requestId, 'the proxy kept the X-Request-Id');
  assert.ok(sim.prefill && sim.decode, `both stages named: ${JSON.stringify(sim)}`);
  const prefill = `${sim.prefill.host}:${sim.prefill.port}`;
  const decode = `${sim.decode.host}:${sim.decode.port}`;
  assert.ok(plan.proxy.prefillUpstreams.includes(prefill), `${prefill} is a prefill API server`);
  assert.ok(plan.proxy.decodeUpstreams.includes(decode), `${decode} is a decode API server`);
  const kvRank = plan.prefill.find((p) => `${p.masterAddress}:${p.apiPort}` === prefill)?.kvRank;
  assert.equal(sim.prefill.kv_rank, kvRank, 'the prefill kv_rank matches the plan');
  assert.match(
    r.text,
    new RegExp(
      `^ \\[prefill ${prefill.replace(/\./g, '\\.')} kv_rank ${kvRank} -> decode ${decode.replace(/\./g, '\\.')} `,
    ),
  );
  return { prefill, decode };
}

export const proxyUrl = (plan: Plan) => `http://${plan.proxy.address}:${plan.proxy.listenPort}`;

export interface ServerRecord {
  port: number;
  pid: number;
  dpRank: number;
}

/** The engine launcher's manifest (`servers.json` in the host's run folder). */
export async function serverManifest(ctx: SimContext, plan: Plan, host: string): Promise<ServerRecord[]> {
  const dir = `${plan.scriptsDir}/run/${host}`;
  const address = plan.hosts.find((h) => h.name === host)!.address;
  const text = await onHost(ctx, address, `cat '${dir}/servers.json'`);
  return (JSON.parse(text) as { servers: ServerRecord[] }).servers;
}

/** The manifest's servers of a host, each with whether its PID is alive in the host's container. */
export async function liveServers(
  ctx: SimContext,
  plan: Plan,
  host: string,
): Promise<(ServerRecord & { alive: boolean })[]> {
  const h = plan.hosts.find((x) => x.name === host)!;
  const servers = await serverManifest(ctx, plan, host);
  const out = await onHost(
    ctx,
    h.address,
    `${h.container.cli} exec ${h.container.name} sh -c 'for p; do kill -0 "$p" 2>/dev/null && echo "$p"; done; true' alive ${servers.map((s) => s.pid).join(' ')}`,
  );
  const alive = new Set(out.split('\n').filter(Boolean).map(Number));
  return servers.map((s) => ({ ...s, alive: alive.has(s.pid) }));
}

/** Stop every engine the tool started (each host's own stop script, in its container). */
export async function stopAllEngines(ctx: SimContext, plan: Plan): Promise<void> {
  await Promise.all(
    plan.hosts
      .filter((h) => h.role !== 'proxy')
      .map((h) => {
        const script = `${plan.scriptsDir}/stop_server_${h.name}.sh`;
        return onHost(
          ctx,
          h.address,
          `[ ! -f '${script}' ] || ${h.container.cli} exec ${h.container.name} bash '${script}'`,
          60_000,
        );
      }),
  );
}

/** The upstreams the proxy's access log names for a request id, in the order nginx used them. */
export async function proxyUpstreams(ctx: SimContext, plan: Plan, requestId: string): Promise<string[]> {
  const host = plan.hosts.find((h) => h.name === plan.proxy.host)!;
  const log = await onHost(
    ctx,
    host.address,
    `grep -F 'request_id=${requestId} ' '${host.logDir}/nginx_access.log' || true`,
  );
  return [...log.matchAll(/upstream=(\S+(?:, \S+)*) upstream_status=/g)].flatMap((m) => m[1]!.split(/,\s*/));
}
