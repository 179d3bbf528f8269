import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import {
  clusterFiles,
  hostsFromInventory,
  powerOffHost,
  simContext,
  simDown,
  simUp,
  sshOptions,
  withSimImages,
} from '../../sim';
import { planFromFile } from '../../src/client/planFile';
import type { Plan } from '../../src/plan/types';
import { clusterWorkflowId } from '../../src/shared/ids';
import { executorTaskQueue, SHARED_TASK_QUEUE } from '../../src/shared/taskQueues';
import { fetchLogsWorkflow } from '../../src/workflows';
import { statusQuery } from '../../src/workflows/cluster/messages';
import type { FetchLogsResult } from '../../src/workflows/fetchLogs';
import { fetchLogsInput } from '../../src/workflows/logSources';
import { runDeploy } from '../helpers/cli';
import { startTestServer } from '../helpers/temporal';
import { startWorkerProcess, type WorkerProcess } from '../helpers/workerProcess';
import { waitFor } from '../helpers/waitFor';

/**
 * Log fetching on the simulated cluster (its own instance, 10.231.14.0/24: p0, d0 and c0 on three
 * machines) against a real Temporal server, with the deployment's two kinds of worker as separate
 * processes: one serving only the executor queue (the log destination is its disk), one serving
 * only the shared queue (workflows and every other activity).
 */
const INSTANCE = Number(process.env.LOGS_TEST_INSTANCE ?? 14);
const ctx = simContext(INSTANCE);
const EXECUTOR = 'logs-e2e-executor';
const LOG_PATH = '/data/log_path';
const LOG_BYTES = 1_500_000;

function inventoryText(execDir: string): string {
  const f = clusterFiles(ctx);
  const at = (octet: number) => `'${ctx.subnet}.${octet}'`;
  return `all:
  vars:
    ansible_user: root
    ansible_ssh_private_key_file: ${f.key}
    known_hosts_file: ${f.knownHosts}
    host_key_policy: strict
    cluster_name: logs-e2e
    container_cli: docker
    DOCKER_IMAGE_ID: localhost/omni-sim-engine:latest
    proxy_image: localhost/omni-sim-proxy:latest
    MODEL_PATH: /data/models/sim-model
    LOG_PATH: ${LOG_PATH}
    LOG_PATH_IN_EXECUTOR: ${execDir}/log_path
    LOCAL_CODE_PATH: ${execDir}/local_code_path
  children:
    P:
      hosts:
        p0: { ansible_host: ${at(11)}, host_ip: ${at(11)}, node_rank: 0, kv_rank: 0, node_port: 8000, api_port: 9000, ascend_rt_visible_devices: '0,1' }
    D:
      hosts:
        d0: { ansible_host: ${at(12)}, host_ip: ${at(12)}, node_rank: 0, node_port: 8100, api_port: 9100, ascend_rt_visible_devices: '0,1' }
    C:
      hosts:
        c0: { ansible_host: ${at(13)}, node_rank: 0, node_port: 7000, role: C }
`;
}

function ssh(address: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshOptions(ctx), address, script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ssh ${address}: ${out}`))));
  });
}

/** Worker identity is `<pid>@<hostname>` (the SDK's default). */
const identityOf = (w: WorkerProcess) => `${w.child.pid}@${os.hostname()}`;

/** Activity type and the identity of the worker that started it, for every attempt in a history. */
function activityWorkers(history: temporal.api.history.v1.IHistory): { type: string; identity: string }[] {
  const scheduled = new Map<string, string>();
  const runs: { type: string; identity: string }[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '');
    const started = e.activityTaskStartedEventAttributes;
    if (started) {
      runs.push({
        type: scheduled.get(String(started.scheduledEventId)) ?? '?',
        identity: started.identity ?? '',
      });
    }
  }
  return runs;
}

/** When a fetch does not finish: what is still pending, and what the workers said. */
async function printStuckWork(client: Client, workers: (WorkerProcess | undefined)[]): Promise<void> {
  for await (const wf of client.workflow.list({ query: `ExecutionStatus = 'Running'` })) {
    const d = await client.workflow.getHandle(wf.workflowId, wf.runId).describe();
    console.log(`still running: ${wf.workflowId} (${wf.type}); pending activities:`);
    console.log(JSON.stringify(d.raw.pendingActivities, null, 1));
  }
  for (const w of workers) console.log(`worker ${w?.child.pid} output:\n${w?.output()}`);
}

describe('log fetch on the simulated cluster', { timeout: 600_000 }, () => {
  let dir: string;
  let inventory: string;
  let plan: Plan;
  let env: TestWorkflowEnvironment | undefined;
  let client: Client;
  let cliEnv: NodeJS.ProcessEnv;
  let executor: WorkerProcess | undefined;
  let shared: WorkerProcess | undefined;
  const address = (host: string) => plan.hosts.find((h) => h.name === host)!.address;
  const localDir = (host: string) => plan.hosts.find((h) => h.name === host)!.executorLogDir;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-logs-e2e-'));
    inventory = path.join(dir, 'logs-e2e.yml');
    fs.writeFileSync(inventory, inventoryText(path.join(dir, 'executor')));
    const sim = await simUp(hostsFromInventory(inventory), { ctx, devices: 2 });
    fs.writeFileSync(inventory, withSimImages(inventoryText(path.join(dir, 'executor')), sim.images));
    plan = planFromFile(inventory, {});
    for (const h of plan.hosts) {
      await ssh(
        h.address,
        `mkdir -p ${LOG_PATH} && head -c ${LOG_BYTES} /dev/urandom | base64 > ${LOG_PATH}/server_0.log && ` +
          `echo "${h.name} started" > ${LOG_PATH}/run_${h.role}.log`,
      );
    }
    env = await startTestServer();
    client = env.client;
    cliEnv = { TEMPORAL_ADDRESS: env.address, TEMPORAL_NAMESPACE: 'default' };
    executor = await startWorkerProcess(env.address, ['--no-shared', '--executor', EXECUTOR]);
    shared = await startWorkerProcess(env.address, ['--no-executor']);
  });

  after(async () => {
    await executor?.stop();
    await shared?.stop();
    await env?.teardown();
    await simDown(ctx);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const fetchNow = (id: string, maximumAttempts = 3) =>
    client.workflow.execute(fetchLogsWorkflow, {
      workflowId: `logs/logs-e2e/${id}`,
      taskQueue: SHARED_TASK_QUEUE,
      args: [fetchLogsInput(plan, executorTaskQueue(EXECUTOR), { maximumAttempts })],
    });

  it('fetches every machine incrementally: the second fetch moves almost nothing', async () => {
    const first = await fetchNow('first');
    const second = await fetchNow('second');
    console.log(`first fetch: ${first.bytesReceived} B, second fetch: ${second.bytesReceived} B`);
    for (const r of [first, second]) {
      assert.deepEqual(r.failed, []);
      assert.deepEqual(
        r.hosts.map((h) => h.host),
        ['p0', 'd0', 'c0'],
      );
    }
    assert.ok(first.bytesReceived > 3 * LOG_BYTES, `first fetch moved ${first.bytesReceived} B`);
    assert.ok(
      second.bytesReceived < first.bytesReceived / 100,
      `second fetch moved ${second.bytesReceived} B`,
    );
    assert.ok(second.hosts.every((h) => h.files === 0));
    for (const h of plan.hosts) {
      assert.equal(
        fs.readFileSync(path.join(localDir(h.name), `run_${h.role}.log`), 'utf8'),
        `${h.name} started\n`,
      );
      assert.ok(fs.statSync(path.join(localDir(h.name), 'server_0.log')).size > LOG_BYTES);
    }
    const history = await client.workflow.getHandle('logs/logs-e2e/first').fetchHistory();
    const runs = activityWorkers(history);
    assert.equal(runs.length, 3);
    for (const r of runs) assert.deepEqual(r, { type: 'fetchHostLogs', identity: identityOf(executor!) });
  });

  it('runs the fetch_log phase on the executor worker, every other activity on the shared worker', async () => {
    const r = await runDeploy(
      // No watch: nothing serves here, and its repairs (ensureProxy…) would join the activities
      // this test lists, as soon as the cluster counts as ready.
      ['start', '--inventory', inventory, '--tags', 'preflight,fetch_log', '--executor', EXECUTOR].concat([
        '--watch-every',
        'off',
      ]),
      cliEnv,
      300_000,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const handle = client.workflow.getHandle(clusterWorkflowId('logs-e2e'));
    const status = await handle.query(statusQuery);
    assert.equal(status.stage, 'ready');
    for (const h of ['p0', 'd0', 'c0']) assert.equal(status.table[h]?.fetch_log?.state, 'ok', h);

    const clusterHistory = await handle.fetchHistory();
    const clusterRuns = activityWorkers(clusterHistory);
    assert.deepEqual(
      clusterRuns.map((x) => x.type),
      ['preflight', 'preflight', 'preflight'],
    );
    for (const run of clusterRuns)
      assert.equal(run.identity, identityOf(shared!), `${run.type} on the shared worker`);
    const childId = clusterHistory.events?.find((e) => e.startChildWorkflowExecutionInitiatedEventAttributes)
      ?.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    assert.ok(childId, 'the fetch_log phase started a child workflow');
    const childRuns = activityWorkers(await client.workflow.getHandle(childId).fetchHistory());
    assert.equal(childRuns.length, 3);
    for (const run of childRuns) {
      assert.deepEqual(
        run,
        { type: 'fetchHostLogs', identity: identityOf(executor!) },
        'log fetch on the executor',
      );
    }
    assert.notEqual(identityOf(shared!), identityOf(executor!));
  });

  it('schedules the fetch with the running cluster’s plan; the schedule fires, fetches, and is removed', async () => {
    const created = await runDeploy(['logs', 'schedule', '--every', '1h'], cliEnv);
    assert.equal(created.code, 0, created.stdout + created.stderr);
    assert.match(created.stdout, /created schedule logs\/logs-e2e: every 1h/);

    await ssh(address('p0'), `echo "written after the last fetch" > ${LOG_PATH}/scheduled.log`);
    const updated = await runDeploy(['logs', 'schedule', 'logs-e2e', '--every', '2s'], cliEnv);
    assert.match(updated.stdout, /updated schedule logs\/logs-e2e: every 2s/);

    const listed = await runDeploy(['logs', 'list'], cliEnv);
    assert.match(listed.stdout, /logs\/logs-e2e\s+every 2s\s+next \d{4}-/);

    const schedule = client.schedule.getHandle('logs/logs-e2e');
    const description = await schedule.describe();
    assert.equal(description.policies.overlap, 'SKIP');
    const action = await waitFor(async () => (await schedule.describe()).info.recentActions[0], {
      interval: 250,
      what: 'a scheduled run',
    });
    const run = client.workflow.getHandle(action.action.workflow.workflowId);
    const result = (await run.result()) as FetchLogsResult;
    console.log(`scheduled fetch ${action.action.workflow.workflowId}: ${result.bytesReceived} B`);
    assert.deepEqual(result.failed, []);
    assert.equal(
      fs.readFileSync(path.join(localDir('p0'), 'scheduled.log'), 'utf8'),
      'written after the last fetch\n',
    );

    const removed = await runDeploy(['logs', 'unschedule'], cliEnv);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    assert.match((await runDeploy(['logs', 'list'], cliEnv)).stdout, /no log schedules/);
  });

  it('reports a machine that is powered off and fetches the others', async () => {
    await ssh(address('p0'), `echo "one more line" >> ${LOG_PATH}/run_prefill.log`);
    await powerOffHost('d0', ctx);
    const started = Date.now();
    const r = await runDeploy(['logs', 'fetch', 'logs-e2e', '--attempts', '2'], cliEnv, 150_000).catch(
      async (err: unknown) => {
        await printStuckWork(client, [executor, shared]);
        throw err;
      },
    );
    console.log(`fetch with d0 down took ${Date.now() - started} ms:\n${r.stdout}`);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stdout, /^d0\s+FAILED\s+ConnectionError: /m);
    assert.match(r.stdout, /^p0\s+ok\s+\d+ B\s+1 file\(s\) changed/m);
    assert.match(r.stdout, /^c0\s+ok\s+/m);
    assert.match(r.stdout, /unreachable: d0/);
    assert.equal(
      fs.readFileSync(path.join(localDir('p0'), 'run_prefill.log'), 'utf8'),
      'p0 started\none more line\n',
    );
  });
});
