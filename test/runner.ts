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
 * - The closing line is `tests: N passed, N failed, N skipped` (CI reads it). A test cancelled
 *   (e.g. by a failing before() hook) did not pass: it counts as failed, and so does a file whose
 *   process failed without reporting a failed test. A tier that fails stops the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { temporalCliPath } from '../src/shared/paths';
import { searchAttributeFlags } from '../src/shared/searchAttributes';

const ROOT = path.join(__dirname, '..');
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const TIERS = ['unit', 'workflow', 'e2e'] as const;
type Tier = (typeof TIERS)[number];

/** Files at once per tier: e2e files bring up simulated clusters and servers of their own. */
const CONCURRENCY: Record<Tier, number> = { unit: 2, workflow: 2, e2e: 1 };

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
      const result: FileResult = {
        file,
        tier,
        ms,
        exitCode: code ?? (signal ? 128 : 1),
        pass: countOf(output, 'pass'),
        fail: countOf(output, 'fail'),
        cancelled: countOf(output, 'cancelled'),
        skipped: countOf(output, 'skipped'),
      };
      // A process that failed (a crash, an error outside any test) without a failed test.
      if (result.exitCode !== 0 && result.fail + result.cancelled === 0) result.fail = 1;
      const mark = result.exitCode === 0 ? '✔' : '✖';
      const head = `── ${mark} ${file} (${seconds(ms)})`;
      if (stream) console.log(head);
      else process.stdout.write(`${head}\n${output}${output.endsWith('\n') ? '' : '\n'}`);
      resolve(result);
    });
  });
}

async function runTier(tier: Tier, files: string[], env: NodeJS.ProcessEnv): Promise<FileResult[]> {
  const conc = CONCURRENCY[tier];
  const queue = [...files];
  const results: FileResult[] = [];
  const lane = async () => {
    for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
      results.push(await runFile(f, tier, env, conc === 1));
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, files.length) }, lane));
  return results;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
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

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
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
    tiers: {} as Record<string, { wallMs: number; files: number; loadAtEnd: string }>,
    files: [] as FileResult[],
  };
  const write = () => {
    report.finished = new Date().toISOString();
    report.wallMs = Date.now() - started;
    report.loadAtEnd = load();
    report.files.sort((a, b) => b.ms - a.ms);
    fs.writeFileSync(path.join(ARTIFACTS, 'test-times.json'), `${JSON.stringify(report, null, 2)}\n`);
  };
  let failedTier: Tier | undefined;
  for (const tier of tiers) {
    const files = filesOf(tier);
    if (files.length === 0) continue;
    console.log(`== ${tier}: ${files.length} files, ${CONCURRENCY[tier]} at a time`);
    const tierStarted = Date.now();
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env[SHARED_TEMPORAL_ENV];
    let temporal: Awaited<ReturnType<typeof startSharedTemporal>> | undefined;
    if (tier === 'workflow') {
      temporal = await startSharedTemporal();
      env[SHARED_TEMPORAL_ENV] = temporal.address;
      console.log(`== one Temporal dev server for the workflow files at ${temporal.address}`);
    }
    try {
      report.files.push(...(await runTier(tier, files, env)));
    } finally {
      await temporal?.stop();
    }
    const ms = Date.now() - tierStarted;
    report.tiers[tier] = { wallMs: ms, files: files.length, loadAtEnd: load() };
    write();
    console.log(`== ${tier}: ${seconds(ms)} (load ${load()})`);
    if (report.files.some((f) => f.tier === tier && f.exitCode !== 0)) {
      failedTier = tier;
      break;
    }
  }
  write();
  const sum = (k: 'pass' | 'fail' | 'cancelled' | 'skipped') => report.files.reduce((n, f) => n + f[k], 0);
  console.log('\n== ten slowest files');
  for (const f of report.files.slice(0, 10)) console.log(`${seconds(f.ms).padStart(9)}  ${f.file}`);
  console.log(
    `== ${Object.entries(report.tiers)
      .map(([t, v]) => `${t} ${seconds(v.wallMs)}`)
      .join(', ')}; total ${seconds(report.wallMs)} on ${report.cpus} cores, load ${load()}` +
      ' (test-artifacts/test-times.json)',
  );
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
