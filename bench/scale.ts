/**
 * Scale benchmark (not a test): a full deploy to ready, with a verified completion through the
 * proxy, on N simulated hosts of one NPU each — N−4 single-host prefill instances and one decode
 * instance over 4 hosts, the proxy beside the first prefill (as the seed places c0 on p0) — with
 * a `deploy worker` process and the real Temporal server. Prints per N:
 *   wall time to ready and its ratio to N = 8, per-phase times, the worker's peak RSS, the most
 *   SSH connections open at once (TCP to port 22 of the sim hosts, the worker's and its rsync's),
 *   events and bytes of every workflow run (continue-as-new runs and child workflows), and the
 *   largest payload in any of them.
 *
 *   npm run bench:scale                  (BENCH_SCALE_SIZES=8,32 to pick sizes; sim instance 70,
 *                                         BENCH_SCALE_INSTANCE to change it)
 * Runs `deploy worker` from this checkout: build first (`node scripts/build.js --if-stale`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import {
  ensureImages,
  hostsFromInventory,
  simContext,
  simDown,
  simImages,
  simUp,
  type SimContext,
} from '../sim';
import { plansFromFile } from '../src/client/planFile';
import { PHASES, selectPhases, type Phase } from '../src/shared/phases';
import { clusterWorkflowId } from '../src/shared/ids';
import { DEFAULT_HEALTH, type ClusterStatus } from '../src/workflows/cluster/types';
import { eventsQuery, statusQuery } from '../src/workflows/cluster/messages';
import {
  startDeploy,
  startDeployEnv,
  testOptions,
  TEST_EXECUTOR,
  waitForStatus,
  type DeployHandle,
} from '../test/helpers/deploy';
import { historyStats, type RunStats } from '../test/helpers/historyStats';
import { startWorkerProcess } from '../test/helpers/workerProcess';

const SIZES = (process.env.BENCH_SCALE_SIZES ?? '8,32,64,128').split(',').map(Number);
const INSTANCE = Number(process.env.BENCH_SCALE_INSTANCE ?? 70);
/** What `deploy start` runs without tags: every phase but the on-demand fetch_log and clean_up. */
const DEPLOY_PHASES: Phase[] = selectPhases();

/** Roomy bounds for hosts that share 2 cores: a step may wait long for CPU, not for ever. */
export const BENCH_ACTIVITY = {
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 5,
  },
};

/** N−4 single-host prefill instances, a decode instance over 4 hosts, the proxy on p0's machine. */
export function scaleInventory(ctx: SimContext, work: string, n: number): string {
  if (n < 5 || n > 240) throw new Error(`N must be 5..240, got ${n}`);
  const address = (i: number) => `${ctx.subnet}.${11 + i}`;
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: '${ctx.dir}/client_key'`,
    `    known_hosts_file: '${ctx.dir}/known_hosts'`,
    '    global_port_base: 8000',
    '    base_api_port: 9000',
    '    proxy_port: 7000',
    '    port_offset: { P: 0, D: 1000 }',
    '    MODEL_PATH: /data/models/sim-model',
    // This checkout's images (ensureImages ran before): another checkout may own `:latest`.
    `    DOCKER_IMAGE_ID: ${simImages(ctx).engine}`,
    `    proxy_image: ${simImages(ctx).proxy}`,
    `    LOCAL_CODE_PATH: '${work}/code'`,
    `    LOG_PATH_IN_EXECUTOR: '${work}/logs'`,
    '    SCRIPTS_PATH: /tmp/scripts_path',
    '    ranktable_save_path: /tmp/ranktable_save_path',
    '    code_install_command: \'test -f "$CODE_PATH/omniinfer/setup.py"\'',
    "    ascend_rt_visible_devices: '0'",
    `    cluster_name: bench-scale-${n}`,
    '  children:',
    '    P:',
    '      hosts:',
  ];
  for (let i = 0; i < n - 4; i++) {
    lines.push(
      `        p${i}:`,
      `          ansible_host: '${address(i)}'`,
      '          node_rank: 0',
      `          kv_rank: ${i}`,
      `          node_port: ${8000 + i}`,
      `          api_port: ${9000 + i}`,
      `          host_ip: '${address(i)}'`,
    );
  }
  lines.push('    D:', '      hosts:');
  for (let d = 0; d < 4; d++) {
    lines.push(
      `        d${d}:`,
      `          ansible_host: '${address(n - 4 + d)}'`,
      `          node_rank: ${d}`,
      '          node_port: 9000',
      `          api_port: ${10000 + d}`,
      `          host_ip: '${address(n - 4)}'`,
    );
  }
  lines.push(
    '    C:',
    '      hosts:',
    '        c0:',
    `          ansible_host: '${address(0)}'`,
    '          node_rank: 0',
    '          node_port: 7000',
  );
  const file = path.join(work, `scale-${n}.yml`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

// ---------------------------------------------------------------------------------------------
// what the machine sees while the deploy runs

/** `10.231.70` → the little-endian hex prefix /proc/net/tcp prints for that /24. */
export function procNetSubnet(subnet: string): string {
  const [a, b, c] = subnet.split('.').map(Number);
  const hex = (x: number) => x.toString(16).toUpperCase().padStart(2, '0');
  return `${hex(c!)}${hex(b!)}${hex(a!)}`; // last octet (the first byte printed) varies
}

/** Established TCP connections from this network namespace to port 22 of the subnet's hosts. */
export function sshConnections(subnetHex: string): number {
  let n = 0;
  for (const line of fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const rem = f[2];
    if (!rem || f[3] !== '01') continue;
    const [ip, port] = rem.split(':');
    if (port === '0016' && ip!.slice(2) === subnetHex) n++;
  }
  return n;
}

function peakRssMiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

// ---------------------------------------------------------------------------------------------

interface Result {
  n: number;
  /** Why the deploy did not reach ready, if it did not. */
  failed?: string;
  wallS: number;
  phases: Partial<Record<Phase, number>>;
  workerPeakMiB: number;
  sshPeak: number;
  runs: RunStats[];
  /** The cluster's events once ready (health changes, repairs). */
  events?: string[];
}

/**
 * Waits for the deploy to leave `deploying`; a workflow task that keeps failing (a payload or
 * message over Temporal's limits) is reported with its cause instead of waiting for ever.
 */
export async function deployed(handle: DeployHandle): Promise<{ status: ClusterStatus; failed?: string }> {
  const deadline = Date.now() + Number(process.env.BENCH_SCALE_TIMEOUT_S ?? 1800) * 1000;
  let last: ClusterStatus = await handle.query(statusQuery);
  for (let i = 0; ; i++) {
    last = await handle.query(statusQuery).catch(() => last);
    if (last.stage === 'ready') return { status: last };
    if (last.stage !== 'deploying')
      return { status: last, failed: `${last.stage}: ${JSON.stringify(last.failures).slice(0, 500)}` };
    if (Date.now() > deadline) return { status: last, failed: 'timed out' };
    if (i % 10 === 9) {
      const task = (await handle.describe()).raw.pendingWorkflowTask;
      if ((task?.attempt ?? 0) >= 3) {
        const events = (await handle.fetchHistory()).events ?? [];
        const failure = [...events]
          .reverse()
          .find((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
        return {
          status: last,
          failed: `workflow task failing (attempt ${task!.attempt}): ${String(failure?.cause)} ${failure?.failure?.message ?? ''}`,
        };
      }
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function phaseSeconds(status: ClusterStatus): Partial<Record<Phase, number>> {
  const out: Partial<Record<Phase, number>> = {};
  for (const phase of PHASES) {
    const cells = Object.values(status.table)
      .map((row) => row[phase])
      .filter((c) => c?.startedAt !== undefined && c.endedAt !== undefined);
    if (cells.length === 0) continue;
    const start = Math.min(...cells.map((c) => c!.startedAt!));
    const end = Math.max(...cells.map((c) => c!.endedAt!));
    out[phase] = (end - start) / 1000;
  }
  return out;
}

async function benchOne(n: number, address: string, client: Client): Promise<Result> {
  const ctx = simContext(INSTANCE);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `omni-bench-scale-${n}-`));
  const worker = await startWorkerProcess(address, ['--executor', TEST_EXECUTOR]);
  try {
    await simDown(ctx);
    fs.mkdirSync(path.join(work, 'code', 'omniinfer'), { recursive: true });
    fs.writeFileSync(path.join(work, 'code', 'omniinfer', 'setup.py'), '#\n');
    await ensureImages(ctx);
    const inventory = scaleInventory(ctx, work, n);
    const tUp = performance.now();
    await simUp(hostsFromInventory(inventory), { ctx, devices: 1 });
    console.log(`  N=${n}: ${n} sim hosts up in ${((performance.now() - tUp) / 1000).toFixed(1)} s`);
    // As `deploy start` sends it: the compact Plan (src/plan/compact.ts).
    const { plan, compact } = plansFromFile(inventory);

    const subnetHex = procNetSubnet(ctx.subnet);
    let sshPeak = 0;
    const sampler = setInterval(() => {
      sshPeak = Math.max(sshPeak, sshConnections(subnetHex));
    }, 50);
    const t0 = performance.now();
    const handle = await startDeploy(client, compact, {
      ...testOptions(DEPLOY_PHASES, { parallelism: 50 }),
      activity: BENCH_ACTIVITY,
      health: DEFAULT_HEALTH,
    });
    const outcome = await deployed(handle);
    const wallS = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    if (outcome.failed !== undefined) {
      const runs = await historyStats(client, clusterWorkflowId(plan.cluster), handle.firstExecutionRunId);
      await handle.terminate('bench failed');
      return {
        n,
        failed: outcome.failed,
        wallS,
        phases: phaseSeconds(outcome.status),
        workerPeakMiB: peakRssMiB(worker.child.pid!),
        sshPeak,
        runs,
      };
    }
    // Let the first health watch report (it returns at once with what it saw) so its payloads count.
    await waitForStatus(handle, (s) => s.health !== undefined, 120_000, 'the first health report');
    // What the cluster did by itself meanwhile (a repair the first health report started).
    const events = await handle.query(eventsQuery);
    const runs = await historyStats(client, clusterWorkflowId(plan.cluster), handle.firstExecutionRunId);
    await handle.terminate('bench done');
    return {
      n,
      wallS,
      // The table as it was at ready: a repair started since rewrites the cells it re-runs.
      phases: phaseSeconds(outcome.status),
      events: events.map((e) => `${e.kind}${e.unit ? ` ${e.unit}` : ''}: ${e.message}`),
      workerPeakMiB: peakRssMiB(worker.child.pid!),
      sshPeak,
      runs,
    };
  } finally {
    await worker.stop();
    await simDown(ctx);
    fs.rmSync(work, { recursive: true, force: true });
  }
}

const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;

function report(results: Result[]): void {
  const base = results.find((r) => r.n === 8) ?? results[0]!;
  const shown = DEPLOY_PHASES;
  console.log(
    '\nN | wall (s) | ×N=8 | ' +
      shown.join(' | ') +
      ' | worker peak RSS | SSH at once | runs | events (max run) | history (max run) | largest payload',
  );
  for (const r of results) {
    if (r.failed !== undefined) console.log(`${r.n} | FAILED after ${r.wallS.toFixed(1)} s: ${r.failed}`);
    const maxEvents = Math.max(...r.runs.map((x) => x.events));
    const maxBytes = Math.max(...r.runs.map((x) => x.bytes));
    const largest = r.runs.reduce((a, x) => (x.largestPayload > a.largestPayload ? x : a));
    console.log(
      [
        r.n,
        r.wallS.toFixed(1),
        (r.wallS / base.wallS).toFixed(2),
        ...shown.map((p) => (r.phases[p] === undefined ? '-' : r.phases[p]!.toFixed(1))),
        `${r.workerPeakMiB.toFixed(0)} MiB`,
        r.sshPeak,
        r.runs.length,
        maxEvents,
        kib(maxBytes),
        `${kib(largest.largestPayload)} (${largest.largestPayloadWhere})`,
      ].join(' | '),
    );
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  for (const r of results) {
    console.log(
      `\nN=${r.n} activities (completed attempts): count, run time median / max, queue wait median / max`,
    );
    const merged: Record<string, { waitMs: number[]; runMs: number[] }> = {};
    for (const run of r.runs) {
      for (const [type, t] of Object.entries(run.activities)) {
        const m = (merged[type] ??= { waitMs: [], runMs: [] });
        m.waitMs.push(...t.waitMs);
        m.runMs.push(...t.runMs);
      }
    }
    for (const [type, t] of Object.entries(merged)) {
      const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
      console.log(
        `  ${type.padEnd(20)} ${String(t.runMs.length).padStart(4)}  run ${s(median(t.runMs))} / ${s(Math.max(...t.runMs))}` +
          `  wait ${s(median(t.waitMs))} / ${s(Math.max(...t.waitMs))}`,
      );
    }
  }
  for (const r of results) {
    if (r.events?.length) console.log(`\nN=${r.n} cluster events once ready:\n  ${r.events.join('\n  ')}`);
  }
  for (const r of results) {
    console.log(`\nN=${r.n} workflow runs:`);
    for (const x of r.runs) {
      console.log(
        `  ${x.type.padEnd(18)} ${x.workflowId.padEnd(40)} ${String(x.events).padStart(6)} events ${kib(x.bytes).padStart(9)}  largest payload ${kib(x.largestPayload)} (${x.largestPayloadWhere})`,
      );
    }
  }
}

async function main(): Promise<void> {
  const env = await startDeployEnv({ workers: false });
  const results: Result[] = [];
  try {
    for (const n of SIZES) {
      const r = await benchOne(n, env.address, env.client);
      console.log(`  N=${n}: ${r.failed ? `FAILED (${r.failed})` : 'ready'} in ${r.wallS.toFixed(1)} s`);
      results.push(r);
    }
  } finally {
    await env.stop();
  }
  report(results);
  try {
    console.log(`\nload average at the end: ${execFileSync('cat', ['/proc/loadavg']).toString().trim()}`);
  } catch {
    /* informational */
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
