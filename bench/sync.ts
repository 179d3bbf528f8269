/**
 * Code sync benchmark (not a test; issue 16): sync_code of a 30 MB, 351-file code tree to N
 * simulated hosts, every run a full copy (the code folder is removed on every host before it),
 * direct (code_sync_fan_out=0: the executor sends to every host) against fan-out (the default:
 * the executor sends to 2 hosts at a time, each host that has the tree sends it on to 2 more).
 * Modes alternate per round (direct first, then fan-out first). Prints per N and mode: the
 * sync_code phase time, per host, its ratio to the same mode's 8-host time, how many copies the
 * executor made and how many hosts relayed, and the median split of a step into copy and install
 * check.
 *
 *   npm run bench:sync            (BENCH_SYNC_SIZES=8,16 to pick sizes, BENCH_SYNC_ROUNDS=2;
 *                                  sim instance 80, BENCH_SYNC_INSTANCE to change it)
 * Runs `deploy worker` from this checkout: build first (`node scripts/build.js --if-stale`).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { ensureImages, hostExec, hostsFromInventory, simContext, simDown, simUp } from '../sim';
import { plansFromFile } from '../src/client/planFile';
import { startDeploy, startDeployEnv, testOptions, TEST_EXECUTOR } from '../test/helpers/deploy';
import { makeCodeTree } from '../test/helpers/codeTree';
import { startWorkerProcess } from '../test/helpers/workerProcess';
import { BENCH_ACTIVITY, deployed, phaseSeconds, scaleInventory } from './scale';

const SIZES = (process.env.BENCH_SYNC_SIZES ?? '8,16,32,64').split(',').map(Number);
const ROUNDS = Number(process.env.BENCH_SYNC_ROUNDS ?? 1);
const INSTANCE = Number(process.env.BENCH_SYNC_INSTANCE ?? 80);
const MODES = { direct: '0', 'fan-out': '2' } as const;
type Mode = keyof typeof MODES;

interface Run {
  n: number;
  mode: Mode;
  round: number;
  failed?: string;
  syncS: number;
  executorCopies: number;
  relayCopies: number;
  relays: number;
  copyMedianS: number;
  installMedianS: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function syncOnce(
  client: Client,
  inventory: string,
  mode: Mode,
  n: number,
  round: number,
  codePath: string,
): Promise<Run> {
  const ctx = simContext(INSTANCE);
  const { plan, compact } = plansFromFile(inventory, { code_sync_fan_out: MODES[mode] });
  // A full copy: nothing of the tree (nor the install marker) on any host.
  await Promise.all(
    plan.hosts.map((h) => hostExec(h.address, ['rm', '-rf', '--', codePath], undefined, ctx)),
  );
  const handle = await startDeploy(client, compact, {
    ...testOptions(['run_docker', 'sync_code'], { parallelism: 64 }),
    activity: BENCH_ACTIVITY,
  });
  const t0 = performance.now();
  const outcome = await deployed(handle);
  const wall = (performance.now() - t0) / 1000;
  // Over 32 hosts the copies run in a child workflow (hostStepsWorkflow): its history too.
  const clusterHistory = await handle.fetchHistory();
  const children = (clusterHistory.events ?? []).flatMap((e) => {
    const id = e.startChildWorkflowExecutionInitiatedEventAttributes?.workflowId;
    return id ? [id] : [];
  });
  const histories = [clusterHistory.events ?? []];
  for (const id of children)
    histories.push((await client.workflow.getHandle(id).fetchHistory()).events ?? []);
  // Event IDs count from 1 in each history: keyed by history too.
  const events = histories.flatMap((h, n) =>
    h.map((e) => ({ e, key: (id: unknown) => `${n}/${String(id)}` })),
  );
  await handle.terminate('bench done');
  // What each syncCode step reported (copy/install split), and which host relayed it if one did.
  const payload = <T>(p: { payloads?: { data?: Uint8Array | null }[] | null } | null | undefined): T =>
    JSON.parse(Buffer.from(p?.payloads?.[0]?.data ?? []).toString() || '{}') as T;
  const relayOf = new Map<string, string | undefined>();
  const results: { relay?: string; copyMs: number; installMs: number }[] = [];
  for (const { e, key } of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'syncCode') {
      relayOf.set(
        key(e.eventId),
        payload<{ relay?: { source: { name: string } } }>(s.input).relay?.source.name,
      );
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c && relayOf.has(key(c.scheduledEventId))) {
      const r = payload<{ copyMs?: number; installMs?: number }>(c.result);
      results.push({
        relay: relayOf.get(key(c.scheduledEventId)),
        copyMs: r.copyMs ?? 0,
        installMs: r.installMs ?? 0,
      });
    }
  }
  return {
    n,
    mode,
    round,
    failed: outcome.failed,
    syncS: phaseSeconds(outcome.status).sync_code ?? wall,
    executorCopies: results.filter((r) => r.relay === undefined).length,
    relayCopies: results.filter((r) => r.relay !== undefined).length,
    relays: new Set(results.flatMap((r) => (r.relay === undefined ? [] : [r.relay]))).size,
    copyMedianS: median(results.map((r) => r.copyMs)) / 1000,
    installMedianS: median(results.map((r) => r.installMs)) / 1000,
  };
}

async function main(): Promise<void> {
  const env = await startDeployEnv({ workers: false });
  const ctx = simContext(INSTANCE);
  const runs: Run[] = [];
  const worker = await startWorkerProcess(env.address, ['--executor', TEST_EXECUTOR]);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-bench-sync-'));
  try {
    const tree = makeCodeTree(path.join(work, 'code', 'omniinfer'));
    console.log(`code tree: ${tree.files} files, ${(tree.bytes / 1e6).toFixed(1)} MB`);
    for (const n of SIZES) {
      await simDown(ctx);
      await ensureImages(ctx);
      const inventory = scaleInventory(ctx, work, n);
      const tUp = performance.now();
      await simUp(hostsFromInventory(inventory), { ctx, devices: 1 });
      console.log(`  N=${n}: sim hosts up in ${((performance.now() - tUp) / 1000).toFixed(1)} s`);
      const codePath = `${plansFromFile(inventory).plan.settings.CODE_PATH}/omniinfer`;
      for (let round = 0; round < ROUNDS; round++) {
        const order: Mode[] = round % 2 === 0 ? ['direct', 'fan-out'] : ['fan-out', 'direct'];
        for (const mode of order) {
          const r = await syncOnce(env.client, inventory, mode, n, round, codePath);
          console.log(
            `  N=${n} ${mode}: sync_code ${r.syncS.toFixed(1)} s${r.failed ? ` FAILED ${r.failed}` : ''} ` +
              `(${r.executorCopies} from the executor, ${r.relayCopies} relayed by ${r.relays} hosts)`,
          );
          runs.push(r);
        }
      }
    }
  } finally {
    await worker.stop();
    await simDown(ctx);
    await env.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
  report(runs);
  console.log(
    `\nload average at the end: ${execFileSync('cat', ['/proc/loadavg']).toString().trim()}; ${os.cpus().length} cores`,
  );
}

function report(runs: Run[]): void {
  console.log(
    '\nN | mode | sync_code (s, median of rounds) | per host (s) | × its N=8 | executor copies | relayed (by hosts) | step: copy / install check (median s)',
  );
  const cell = (n: number, mode: Mode) => runs.filter((r) => r.n === n && r.mode === mode);
  const syncOf = (n: number, mode: Mode) => median(cell(n, mode).map((r) => r.syncS));
  const base = Math.min(...SIZES);
  for (const n of SIZES) {
    for (const mode of Object.keys(MODES) as Mode[]) {
      const rs = cell(n, mode);
      if (rs.length === 0) continue;
      const s = syncOf(n, mode);
      const last = rs[rs.length - 1]!;
      console.log(
        [
          n,
          mode,
          `${s.toFixed(1)}${rs.some((r) => r.failed) ? ' (a run FAILED)' : ''}`,
          (s / n).toFixed(2),
          (s / syncOf(base, mode)).toFixed(2),
          last.executorCopies,
          `${last.relayCopies} (${last.relays})`,
          `${median(rs.map((r) => r.copyMedianS)).toFixed(2)} / ${median(rs.map((r) => r.installMedianS)).toFixed(2)}`,
        ].join(' | '),
      );
    }
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
