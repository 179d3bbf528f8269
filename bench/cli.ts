/**
 * How fast `deploy` answers (issue 12). Each command runs as an operator runs it — `bin/deploy`
 * in a new process, from the build in dist/ (built first when stale) — several times, interleaved
 * with `node -e 0` so a busy machine slows both alike; prints each median wall time and its ratio
 * to `node -e 0`'s median over the same rounds, the median CPU time (user + system, as `time`
 * reports it; for the worker, until it stops), and the load average before and after.
 *
 *   deploy --help                          commander and the command table only
 *   deploy plan -i inventories/4P1D.yml    inventory → Plan → tables; no Temporal
 *   deploy status bench-cli                connect, describe and query a running cluster workflow
 *                                          (started with no phases: it is ready at once and
 *                                          touches no host) on a dev server of its own
 *   deploy worker                          from start until it prints "worker connected" (polling)
 *
 * The dev server is the Temporal CLI of scripts/build-temporal.sh on free loopback ports, with a
 * temporary state folder; everything is stopped and removed at the end, also on failure.
 * Run: npm run bench:cli   (BENCH_CLI_RUNS=7 by default; the worker runs half as many times)
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { PHASES } from '../src/shared/phases';
import { PROJECT_ROOT } from '../src/shared/paths';
import { defaultDevServerOptions, startDevServerDetached, stopDevServer } from '../src/temporal/devServer';
import { DEPLOY_BIN } from '../test/helpers/cli';
import { freePort } from '../test/helpers/ports';

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 7);
const CLUSTER = 'bench-cli';
const INVENTORY = path.join(PROJECT_ROOT, 'inventories', '4P1D.yml');

interface Row {
  name: string;
  target: number;
  runs: number[];
  baseline: number[];
  baselineCpu: number[];
  cpu: number[];
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

/** Reports each process's CPU time at exit (NODE_OPTIONS reaches bin/deploy's node too). */
const CPU_PRELOAD = path.join(__dirname, 'cpuAtExit.js');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${Math.round(x)} ms`;
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/**
 * Wall time of one process from spawn to exit, or to `until` on its stdout (then it is stopped),
 * and its CPU time.
 */
function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, until?: string): Promise<Timing> {
  const cpuFile = path.join(
    os.tmpdir(),
    `omni-bench-cpu-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  return new Promise<number>((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, {
      env: {
        ...process.env,
        ...env,
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${CPU_PRELOAD}`,
        BENCH_CPU_FILE: cpuFile,
      },
      stdio: ['ignore', until ? 'pipe' : 'ignore', 'pipe'],
    });
    let out = '';
    let err = '';
    let elapsed: number | undefined;
    child.stderr!.on('data', (d) => (err += d));
    child.stdout?.on('data', (d) => {
      out += d;
      if (elapsed === undefined && until && out.includes(until)) {
        elapsed = performance.now() - t0;
        child.kill('SIGTERM');
      }
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      elapsed ??= performance.now() - t0;
      if (until ? !out.includes(until) : code !== 0) {
        reject(new Error(`${[cmd, ...args].join(' ')} exited ${code}: ${out}${err}`));
      } else resolve(elapsed);
    });
  }).then((wallMs) => {
    const cpuMs = Number(fs.readFileSync(cpuFile, 'utf8').trim()) / 1000;
    fs.rmSync(cpuFile, { force: true });
    return { wallMs, cpuMs };
  });
}

/** Rounds of (node -e 0, command), so load that comes and goes weighs on both. */
async function measure(name: string, target: number, runs: number, run: () => Promise<Timing>): Promise<Row> {
  const row: Row = { name, target, runs: [], baseline: [], baselineCpu: [], cpu: [] };
  await run(); // warms the file cache; not counted
  for (let i = 0; i < runs; i++) {
    const base = await timed(process.execPath, ['-e', '0']);
    row.baseline.push(base.wallMs);
    row.baselineCpu.push(base.cpuMs);
    const t = await run();
    row.runs.push(t.wallMs);
    row.cpu.push(t.cpuMs);
  }
  return row;
}

function ensureBuild(): void {
  const r = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts', 'build.js'), '--if-stale'], {
    stdio: 'inherit',
  });
  if (r.status !== 0) throw new Error('npm run build failed');
}

async function main(): Promise<void> {
  ensureBuild();
  const loadBefore = load();
  const rows: Row[] = [];
  rows.push(await measure('deploy --help', 250, RUNS, () => timed(DEPLOY_BIN, ['--help'])));
  rows.push(
    await measure('deploy plan -i inventories/4P1D.yml', 400, RUNS, () =>
      timed(DEPLOY_BIN, ['plan', '-i', INVENTORY]),
    ),
  );

  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-bench-cli-'));
  process.env.OMNI_DEPLOY_STATE_DIR = stateDir;
  const server = { ...defaultDevServerOptions(), port: await freePort(), uiPort: await freePort() };
  const address = `${server.ip}:${server.port}`;
  const env = { OMNI_DEPLOY_STATE_DIR: stateDir, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: 'default' };
  const workerArgs = ['worker', '--executor', 'bench-cli'];
  let worker: ReturnType<typeof spawn> | undefined;
  let connection: Connection | undefined;
  try {
    await startDevServerDetached(server);
    rows.push(
      await measure('deploy worker → "worker connected"', 1500, Math.max(3, Math.ceil(RUNS / 2)), () =>
        timed(DEPLOY_BIN, workerArgs, env, 'worker connected'),
      ),
    );

    worker = spawn(DEPLOY_BIN, workerArgs, { env: { ...process.env, ...env }, stdio: 'ignore' });
    const start = spawnSync(
      DEPLOY_BIN,
      [
        'start',
        '-i',
        INVENTORY,
        '-e',
        `cluster_name=${CLUSTER}`,
        '--skip-tags',
        PHASES.join(','),
        // The inventory's hosts do not exist: a health watch would probe them and queue repairs,
        // keeping the worker busy while status is measured.
        '--watch-every',
        'off',
        '--detach',
      ],
      { env: { ...process.env, ...env }, encoding: 'utf8' },
    );
    if (start.status !== 0) throw new Error(`deploy start failed: ${start.stdout}${start.stderr}`);
    // Ready (no phases) once the worker has run its first task; status answers from then on.
    await timed(DEPLOY_BIN, ['status', CLUSTER], env);
    rows.push(
      await measure(`deploy status ${CLUSTER}`, 500, RUNS, () => timed(DEPLOY_BIN, ['status', CLUSTER], env)),
    );

    connection = await Connection.connect({ address });
    // Terminated, not cancelled: a cancellation would run the cleanup phase on the plan's hosts.
    await new Client({ connection }).workflow.getHandle(`cluster/${CLUSTER}`).terminate('benchmark done');
  } finally {
    await connection?.close();
    if (worker?.exitCode === null) {
      const exited = new Promise((r) => worker!.once('exit', r));
      worker.kill('SIGTERM');
      await exited;
    }
    await stopDevServer();
    fs.rmSync(stateDir, { recursive: true, force: true });
  }

  console.log(`\nbin/deploy from dist/ (${RUNS} runs each, median wall time; node ${process.version})`);
  console.log(
    `load average (1, 5, 15 min): ${loadBefore} before, ${load()} after, ${os.cpus().length} cores`,
  );
  const width = Math.max(...rows.map((r) => r.name.length));
  const all = (f: (r: Row) => number[]) => rows.flatMap(f);
  console.log(
    `${'node -e 0'.padEnd(width)}  ${ms(median(all((r) => r.baseline))).padStart(8)}  (all rounds)` +
      `${' '.repeat(21)}CPU ${ms(median(all((r) => r.baselineCpu))).padStart(8)}`,
  );
  for (const r of rows) {
    const m = median(r.runs);
    const base = median(r.baseline);
    console.log(
      `${r.name.padEnd(width)}  ${ms(m).padStart(8)}  ×${(m / base).toFixed(1).padEnd(5)} node -e 0 (${ms(base)})` +
        `  CPU ${ms(median(r.cpu)).padStart(8)}   target ≤ ${ms(r.target)} ${m <= r.target ? 'met' : 'MISSED'}`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
