/**
 * The test runner behind scripts/run-tests.sh: runs the tiers (unit, workflow, e2e) with Node's
 * own test runner, one process per test file, and records how long each file took.
 *
 *   node --import tsx test/runner.ts                 all tiers: unit, workflow, e2e
 *   node --import tsx test/runner.ts unit workflow   only those
 *
 * - Each file runs as `node --import tsx --test-reporter=spec <file>` (plus a JUnit report in
 *   test-artifacts/junit/), so its wall time is that of its process. Files of a tier that runs
 *   two at a time print their output when they finish, whole, never interleaved.
 * - test-artifacts/test-times.json gets every file's wall time and counts, each tier's wall time
 *   and the machine's load; the ten slowest files are printed at the end.
 * - The workflow tier shares one Temporal dev server (search attributes registered), whose
 *   address reaches the files as OMNI_TEST_TEMPORAL_ADDRESS (startTestServer() in
 *   test/helpers/temporal.ts connects to it). Every workflow test uses its own task queues and
 *   workflow IDs, so files can share it and run two at a time. e2e files keep their own servers:
 *   they use the production task queue and `cluster/<name>` IDs, and a workflow one file leaves
 *   running would be picked up by the next file's workers.
 * - e2e files run once the unit and workflow files passed, up to five at once, a next one only
 *   while the whole machine has room for it (test/machineLoad.ts).
 * - The closing line is `tests: N passed, N failed, N skipped` (CI reads it). A test cancelled
 *   (e.g. by a failing before() hook) did not pass: it counts as failed, and so does a file whose
 *   process failed without reporting a failed test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalCliPath } from '../src/shared/paths';
import { searchAttributeFlags } from '../src/shared/searchAttributes';
import { ensureImages } from '../sim';
import { cpuAccount, removeCpuAccounts } from './cpuAccount';
import { freePort } from './helpers/ports';
import { machineLoad, type MachineLoad } from './machineLoad';
import { hasRoom, nextJob, ROOM, type Schedulable } from './runnerSchedule';

const ROOT = path.join(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const TIERS = ['unit', 'workflow', 'e2e'] as const;
type Tier = (typeof TIERS)[number];

/**
 * Files at once, at most. Unit and workflow files run in one pool (a unit file fills the gaps a
 * workflow file leaves while it waits on the server); e2e files mostly wait on simulated hosts,
 * each on its own sim instance, Temporal server and folders, so up to five run at once, a next one
 * starting only while the machine has room (`hasRoom`). A file that must not share the machine
 * says so in a header line (see `constraintsOf`).
 */
const LANES = {
  fast: Number(process.env.OMNI_TEST_FAST_LANES ?? 2),
  e2e: Number(process.env.OMNI_TEST_E2E_LANES ?? 5),
};

/** A file's cost before any run on this machine recorded it (test-artifacts/test-times.json). */
const DEFAULT_MS: Record<Tier, number> = { unit: 3_000, workflow: 15_000, e2e: 60_000 };
const BASELINE = path.join(ROOT, 'test', 'times-baseline.json');

export const SHARED_TEMPORAL_ENV = 'OMNI_TEST_TEMPORAL_ADDRESS';

interface FileResult {
  file: string;
  tier: Tier;
  ms: number;
  exitCode: number | null;
  pass: number;
  fail: number;
  cancelled: number;
  skipped: number;
  /** Date.now() when the file's process ended (a tier's wall time spans its files). */
  endedAt: number;
  /** CPU of the file's processes (test/cpuAccount.ts), where a cgroup could be made. */
  cpu?: { userMs: number; sysMs: number };
}

const children = new Set<ChildProcess>();

function filesOf(tier: Tier): string[] {
  const dir = path.join(ROOT, 'test', tier);
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => path.join('test', tier, f))
    .sort();
}

/** The spec reporter ends a run with "ℹ pass N", "ℹ fail N", … */
function countOf(output: string, key: string): number {
  let n = 0;
  for (const line of output.split('\n')) {
    const m = /^ℹ (\w+) (\d+)$/.exec(line.trim());
    if (m && m[1] === key) n += Number(m[2]);
  }
  return n;
}

function runFile(file: string, tier: Tier, env: NodeJS.ProcessEnv, stream: boolean): Promise<FileResult> {
  const junit = path.join(ARTIFACTS, 'junit', tier, `${path.basename(file, '.test.ts')}.xml`);
  fs.mkdirSync(path.dirname(junit), { recursive: true });
  const started = Date.now();
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--test-reporter=spec',
      '--test-reporter-destination=stdout',
      '--test-reporter=junit',
      `--test-reporter-destination=${junit}`,
      file,
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  const account = cpuAccount(path.basename(file));
  if (child.pid) account?.attach(child.pid);
  let output = '';
  const take = (d: Buffer) => {
    output += d.toString();
    if (stream) process.stdout.write(d);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      children.delete(child);
      const ms = Date.now() - started;
      const cpu = account?.close();
      const result: FileResult = {
        file,
        tier,
        ms,
        exitCode: code ?? (signal ? 128 : 1),
        pass: countOf(output, 'pass'),
        fail: countOf(output, 'fail'),
        cancelled: countOf(output, 'cancelled'),
        skipped: countOf(output, 'skipped'),
        endedAt: Date.now(),
        ...(cpu ? { cpu } : {}),
      };
      // A process that failed (a crash, an error outside any test) without a failed test.
      if (result.exitCode !== 0 && result.fail + result.cancelled === 0) result.fail = 1;
      const mark = result.exitCode === 0 ? '✔' : '✖';
      const head = `── ${mark} ${file} (${seconds(ms)}${cpu ? `, CPU ${cpuText(cpu)}` : ''})`;
      if (stream) console.log(head);
      else process.stdout.write(`${head}\n${output}${output.endsWith('\n') ? '' : '\n'}`);
      resolve(result);
    });
  });
}

interface Job extends Schedulable {
  file: string;
  tier: Tier;
  /** Expected wall time: the longest files start first, so no long file is left for the end. */
  ms: number;
}

/**
 * A file's header line `// runner: alone`, `// runner: group=NAME` or `// runner: lanes=2` (several
 * may follow `runner:`, then a why in parentheses), e.g. the two files that use the operator's
 * default dev server and sim instance 0 share a group.
 */
function constraintsOf(file: string): Pick<Job, 'group' | 'alone' | 'lanes'> {
  const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
  const words = /^\/\/ runner: (.+)$/m.exec(text)?.[1]?.split(/\s+/) ?? [];
  const value = (key: string) => words.find((w) => w.startsWith(`${key}=`))?.slice(key.length + 1);
  const group = value('group');
  return { alone: words.includes('alone'), lanes: Number(value('lanes') ?? 1), ...(group ? { group } : {}) };
}

/** Each file's wall time in the last run here, else in the committed baseline, else a default. */
function knownTimes(): Map<string, number> {
  const times = new Map<string, number>();
  for (const source of [BASELINE, path.join(ARTIFACTS, 'test-times.json')]) {
    try {
      const report = JSON.parse(fs.readFileSync(source, 'utf8')) as { files: { file: string; ms: number }[] };
      for (const f of report.files) times.set(f.file, f.ms);
    } catch {
      // No run recorded yet (a fresh clone has only the baseline).
    }
  }
  return times;
}

function jobsOf(tiers: Tier[], times: Map<string, number>): Job[] {
  return tiers
    .flatMap((tier) => filesOf(tier).map((file) => ({ file, tier })))
    .map(({ file, tier }) => ({
      file,
      tier,
      ms: times.get(file) ?? DEFAULT_MS[tier],
      ...constraintsOf(file),
    }))
    .sort((x, y) => y.ms - x.ms || x.file.localeCompare(y.file));
}

interface PoolOptions {
  lanes: number;
  env: NodeJS.ProcessEnv;
  /** Start a next file only while the machine has room (`hasRoom`); without it, by lanes only. */
  load?: MachineLoad;
}

/**
 * Runs the jobs on `lanes` lanes, longest first, keeping groups and `alone` apart: a free lane
 * takes the first job that may start next to those running, or waits for one to end. A single
 * lane streams each file's output as it comes; more lanes print a file's output whole when it ends.
 */
function runPool(jobs: Job[], opts: PoolOptions): Promise<FileResult[]> {
  const waiting = [...jobs];
  const running = new Set<Job>();
  const results: FileResult[] = [];
  let lastStart = 0;
  let lastExpectedMs = 0;
  let recheck: NodeJS.Timeout | undefined;
  return new Promise<FileResult[]>((resolve) => {
    const fill = () => {
      clearTimeout(recheck);
      for (;;) {
        const i = nextJob(waiting, [...running], opts.lanes);
        if (i < 0) break;
        const room = opts.load && {
          busyCores: opts.load.busyCores(ROOM.settleMs),
          cores: opts.load.cores,
          msSinceStart: Date.now() - lastStart,
          lastExpectedMs,
        };
        if (!hasRoom(running.size, room)) {
          recheck = setTimeout(fill, 1000);
          break;
        }
        lastStart = Date.now();
        lastExpectedMs = waiting[i]!.ms;
        const [job] = waiting.splice(i, 1);
        running.add(job!);
        void runFile(job!.file, job!.tier, opts.env, opts.lanes === 1).then((r) => {
          results.push(r);
          running.delete(job!);
          fill();
        });
      }
      if (running.size === 0 && waiting.length === 0) resolve(results);
    };
    fill();
  });
}

/** One `temporal server start-dev` for the tier (in memory, headless, loopback only). */
async function startSharedTemporal(): Promise<{ address: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const log = path.join(ARTIFACTS, 'temporal-dev-server.log');
  const out = fs.openSync(log, 'w');
  const server = spawn(
    temporalCliPath(),
    [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--namespace',
      'default',
      '--log-level',
      'warn',
      // What TestWorkflowEnvironment.createLocal passes to the dev server it starts.
      '--dynamic-config-value',
      'frontend.enableServerVersionCheck=false',
      '--dynamic-config-value',
      'frontend.enableUpdateWorkflowExecution=true',
      '--dynamic-config-value',
      'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
      ...searchAttributeFlags(),
    ],
    { stdio: ['ignore', out, out] },
  );
  fs.closeSync(out);
  children.add(server);
  let exited = false;
  server.on('exit', () => {
    exited = true;
    children.delete(server);
  });
  const stop = async () => {
    if (exited) return;
    const gone = new Promise((r) => server.once('exit', r));
    server.kill('SIGTERM');
    const timer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`the Temporal dev server exited at start; see ${log}`);
    try {
      const conn = await Connection.connect({ address, connectTimeout: 1000 });
      try {
        await conn.workflowService.describeNamespace({ namespace: 'default' });
        return { address, stop };
      } finally {
        await conn.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the Temporal dev server at ${address} did not come up in 60 s: ${String(err)}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

function cpuText(cpu: { userMs: number; sysMs: number }): string {
  return `${seconds(cpu.userMs + cpu.sysMs)} (${Math.round((100 * cpu.sysMs) / (cpu.userMs + cpu.sysMs || 1))} % system)`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function cpuMs(f: FileResult): number {
  return f.cpu ? f.cpu.userMs + f.cpu.sysMs : 0;
}

function load(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
}

async function main(): Promise<number> {
  const asked = process.argv.slice(2);
  for (const a of asked) {
    if (!(TIERS as readonly string[]).includes(a))
      throw new Error(`unknown tier ${a}; tiers: ${TIERS.join(', ')}`);
  }
  const tiers = TIERS.filter((t) => asked.length === 0 || asked.includes(t));
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const started = Date.now();
  const report = {
    started: new Date(started).toISOString(),
    finished: '',
    wallMs: 0,
    cpus: os.cpus().length,
    loadAtStart: load(),
    loadAtEnd: '',
    tiers: {} as Record<string, { wallMs: number; files: number; loadAtEnd: string; cpuMs?: number }>,
    /** The whole machine's busy CPU over each stage (every process, containers included). */
    stages: {} as Record<string, { wallMs: number; machineBusyMs: number }>,
    files: [] as FileResult[],
  };
  const machine = machineLoad();
  const write = () => {
    report.finished = new Date().toISOString();
    report.wallMs = Date.now() - started;
    report.loadAtEnd = load();
    report.files.sort((a, b) => b.ms - a.ms);
    fs.writeFileSync(path.join(ARTIFACTS, 'test-times.json'), `${JSON.stringify(report, null, 2)}\n`);
  };
  const times = knownTimes();
  const failed = (stage: Tier[]) => report.files.some((f) => stage.includes(f.tier) && f.exitCode !== 0);
  const fast = tiers.filter((t) => t !== 'e2e');
  const e2e = tiers.filter((t) => t === 'e2e');
  const runStage = async (stage: Tier[], admitBy?: MachineLoad) => {
    const jobs = jobsOf(stage, times);
    if (jobs.length === 0) return;
    const lanes = stage.includes('e2e') ? LANES.e2e : LANES.fast;
    const started = Date.now();
    const mark = machine?.mark();
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[SHARED_TEMPORAL_ENV];
    let temporal: Awaited<ReturnType<typeof startSharedTemporal>> | undefined;
    if (stage.includes('workflow')) {
      temporal = await startSharedTemporal();
      env[SHARED_TEMPORAL_ENV] = temporal.address;
      console.log(`== one Temporal dev server for the workflow files at ${temporal.address}`);
    }
    // Built once here, so files that start together do not each build the simulated hosts' images.
    if (stage.includes('e2e')) console.log(`== ${(await ensureImages()).summary}`);
    console.log(`== ${stage.join(' + ')}: ${jobs.length} files, up to ${lanes} at a time, longest first`);
    try {
      report.files.push(...(await runPool(jobs, { lanes, env, load: admitBy })));
    } finally {
      await temporal?.stop();
    }
    const busy = mark && machine!.since(mark);
    if (busy) report.stages[stage.join('+')] = { wallMs: busy.wallMs, machineBusyMs: busy.busyMs };
    write();
    const busyText = busy
      ? `, machine busy ${(busy.busyMs / busy.wallMs).toFixed(2)} of ${machine!.cores} cores`
      : '';
    console.log(`== ${stage.join(' + ')}: ${seconds(Date.now() - started)} (load ${load()}${busyText})`);
  };
  // e2e files only once the unit and workflow files passed. Run beside them, they made the whole
  // run slower here (24.1 min against 22.9): the machine is CPU-bound either way, and under
  // contention every file spends more CPU on its polls, retries and timeouts.
  await runStage(fast);
  if (!failed(fast)) await runStage(e2e, machine);
  for (const tier of tiers) {
    const ran = report.files.filter((f) => f.tier === tier);
    if (ran.length === 0) continue;
    const wallMs = Math.max(...ran.map((f) => f.endedAt)) - Math.min(...ran.map((f) => f.endedAt - f.ms));
    const cpu = ran.reduce((n, f) => n + cpuMs(f), 0);
    report.tiers[tier] = { wallMs, files: ran.length, loadAtEnd: load(), ...(cpu ? { cpuMs: cpu } : {}) };
  }
  const failedTier = tiers.find((t) => failed([t]));
  write();
  const sum = (k: 'pass' | 'fail' | 'cancelled' | 'skipped') => report.files.reduce((n, f) => n + f[k], 0);
  console.log('\n== ten slowest files');
  for (const f of report.files.slice(0, 10)) console.log(`${seconds(f.ms).padStart(9)}  ${f.file}`);
  const costly = report.files.filter((f) => f.cpu).sort((a, b) => cpuMs(b) - cpuMs(a));
  if (costly.length > 0) {
    console.log('== ten costliest files in CPU (their processes, containers excluded)');
    for (const f of costly.slice(0, 10)) console.log(`${cpuText(f.cpu!).padStart(24)}  ${f.file}`);
  }
  console.log(
    `== ${Object.entries(report.tiers)
      .map(([t, v]) => `${t} ${seconds(v.wallMs)}${v.cpuMs ? ` (CPU ${seconds(v.cpuMs)})` : ''}`)
      .join(', ')}; total ${seconds(report.wallMs)} on ${report.cpus} cores, load ${load()}` +
      ' (test-artifacts/test-times.json)',
  );
  removeCpuAccounts();
  machine?.stop();
  const failedFiles = report.files.filter((f) => f.exitCode !== 0);
  if (failedTier) {
    console.log(`== ${failedTier} failed: ${failedFiles.map((f) => f.file).join(', ')}`);
  } else {
    console.log(`== all suites passed (${report.files.length} files)`);
  }
  console.log(
    `tests: ${sum('pass')} passed, ${sum('fail') + sum('cancelled')} failed, ${sum('skipped')} skipped`,
  );
  return failedTier ? 1 : 0;
}

const stopChildren = (signal: NodeJS.Signals) => {
  for (const c of children) c.kill(signal);
  process.exit(130);
};
process.once('SIGINT', () => stopChildren('SIGINT'));
process.once('SIGTERM', () => stopChildren('SIGTERM'));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    for (const c of children) c.kill('SIGTERM');
    process.exit(1);
  },
);
