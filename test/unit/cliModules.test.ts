import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DEPLOY_BIN } from '../helpers/cli';
import { freePort } from '../helpers/ports';

const ROOT = path.join(__dirname, '..', '..');
const RECORDER = path.join(__dirname, '..', 'helpers', 'recordModules.js');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** Every CommonJS module the process loaded: `npm:<package>/…` or a path in the checkout. */
  modules: string[];
}

/** Where a module came from: `npm:@scope/name/…`, or its path in the checkout without `dist/`. */
function origin(file: string): string {
  const npm = file.lastIndexOf('/node_modules/');
  if (npm >= 0) return `npm:${file.slice(npm + '/node_modules/'.length)}`;
  return path.relative(ROOT, file).replace(/^dist\//, '');
}

/** `bin/deploy ARGS` as an operator runs it, with a preload that records the modules it loads. */
function deploy(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const record = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'omni-modules-')), 'modules.txt');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', RECORDER, DEPLOY_BIN, ...args], {
      env: { ...process.env, ...env, RECORD_MODULES_TO: record, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const modules = fs.readFileSync(record, 'utf8').split('\n').filter(Boolean).map(origin);
      fs.rmSync(path.dirname(record), { recursive: true, force: true });
      resolve({ code: code ?? -1, stdout, stderr, modules });
    });
  });
}

/** What no client command may load: the worker side, SSH, the simulated cluster, the bundler, tsx. */
const NEVER = [
  'npm:@temporalio/worker/',
  'npm:@temporalio/core-bridge/',
  'npm:@temporalio/workflow/',
  'npm:ssh2/',
  'npm:node-ssh/',
  'npm:webpack/',
  'npm:tsx/',
  'src/activities/',
  'src/remote/',
  'src/worker.js',
  'sim/',
];

function assertNone(run: Run, prefixes: string[], what: string): void {
  const loaded = run.modules.filter((m) => prefixes.some((p) => m.startsWith(p)));
  assert.deepEqual(loaded, [], `${what} loaded modules it must not load`);
}

/**
 * Issue 12: every command used to load the whole tool (the worker's native core, the activities,
 * ssh2, the simulator, tsx) before doing anything. Each command's implementation is now loaded
 * when it runs, from the build in dist/.
 */
describe('modules a client command loads', () => {
  before(() => {
    // bin/deploy runs the sources through tsx while the build is stale; this is about the build.
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
  });

  it('deploy --help: commander and the command table, nothing of Temporal, from dist/', async () => {
    const r = await deploy(['--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\s+status \[options\] \[cluster\]/m);
    assert.ok(r.modules.includes('src/client/main.js'), 'bin/deploy ran the build in dist/');
    assertNone(r, [...NEVER, 'npm:@temporalio/', 'src/workflows/', 'src/plan/', 'src/inventory/'], '--help');
  });

  it('deploy plan: the inventory and the planner, nothing of Temporal', async () => {
    const r = await deploy(['plan', '-i', path.join(ROOT, 'inventories', '4P1D.yml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /cluster 4P1D: 4 prefill instance/);
    assertNone(r, [...NEVER, 'npm:@temporalio/', 'src/workflows/'], 'plan');
    // The action is one bundle (scripts/build.js): what went into it, as the build recorded it.
    assert.ok(r.modules.includes('src/client/actions/plan.js'), r.modules.join('\n'));
    const inputs = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'dist', 'src', 'client', 'actions', 'plan.inputs.json'), 'utf8'),
    ) as string[];
    const bundled = inputs.map((f) => origin(path.join(ROOT, f)).replace(/\.ts$/, '.js'));
    assert.ok(bundled.includes('src/plan/plan.js'), bundled.join('\n'));
    assert.ok(bundled.includes('src/inventory/load.js'), bundled.join('\n'));
    for (const prefix of [...NEVER, 'npm:@temporalio/', 'src/workflows/']) {
      assert.deepEqual(
        bundled.filter((m) => m.startsWith(prefix)),
        [],
        `the plan bundle holds ${prefix}`,
      );
    }
    // ES module builds, so only what the command uses: none of zod's locales but English.
    assert.deepEqual(
      bundled.filter((m) => /^npm:zod\/.*locales\//.test(m) && !/\/en\.js$/.test(m)),
      [],
    );
  });

  it('deploy status: the Temporal client and the status table, no workflow code', async () => {
    // Nothing listens there: the command gives up connecting, after loading what it needs.
    const r = await deploy(['status', 'nowhere'], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}` });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+/);
    // The client SDK comes as one bundle with a code cache (scripts/build.js), not file by file:
    // about 300 modules less to find, read and compile, and one copy of its classes.
    assert.ok(r.modules.includes('src/temporal/clientSdk.js'), r.modules.join('\n'));
    assertNone(
      r,
      ['npm:@temporalio/client/', 'npm:@temporalio/proto/', 'npm:protobufjs/', 'npm:@grpc/'],
      'status',
    );
    const inputs = JSON.parse(
      fs.readFileSync(path.join(ROOT, 'dist', 'src', 'temporal', 'clientSdk.inputs.json'), 'utf8'),
    ) as string[];
    for (const pkg of ['@temporalio/client/', '@temporalio/proto/', '@grpc/grpc-js/', 'protobufjs/']) {
      assert.ok(
        inputs.some((f) => f.includes(`node_modules/${pkg}`)),
        `the client SDK bundle holds ${pkg}`,
      );
    }
    // Allowed: the message definitions and the pure health model whose verdicts status prints.
    const allowed = ['src/workflows/cluster/messages.js', 'src/workflows/cluster/health.js'];
    const workflowCode = r.modules.filter((m) => m.startsWith('src/workflows/') && !allowed.includes(m));
    assert.deepEqual(workflowCode, [], 'status loaded workflow code');
    assertNone(r, [...NEVER, 'src/plan/', 'src/inventory/', 'npm:log-update/'], 'status');
  });

  it('deploy top: the Temporal client and the metrics reader, nothing of the worker or SSH', async () => {
    const r = await deploy(['top', 'nowhere', '--json'], {
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+/);
    assert.ok(r.modules.includes('src/client/actions/top.js'), r.modules.join('\n'));
    assertNone(r, [...NEVER, 'src/inventory/', 'npm:vega', 'npm:hdr-histogram-js/'], 'top');
  });

  it('deploy bench --url: the benchmark alone, no Temporal, and no plotting unless asked', async () => {
    const r = await deploy(['bench', '--url', `http://127.0.0.1:${await freePort()}`, '--num-prompts', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: /);
    assert.ok(r.modules.includes('src/client/actions/bench.js'), r.modules.join('\n'));
    assertNone(
      r,
      [...NEVER, 'npm:@temporalio/', 'src/temporal/clientSdk', 'npm:vega', 'npm:@resvg/'],
      'bench --url',
    );
  });

  it('deploy worker: the SDK worker and the activities, but not the inventory loader nor the bundler', async () => {
    // The prebuilt workflow bundle spares webpack; the inventory loader (yaml, nunjucks, zod) is
    // only for a password login. Nothing listens: the worker stops after loading what it runs.
    const r = await deploy(['worker', '--executor', 'modules-test'], {
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot reach Temporal at 127\.0\.0\.1:\d+ \(.*\)\. Start one with/);
    assert.ok(r.modules.some((m) => m.startsWith('npm:@temporalio/worker/')));
    assert.ok(r.modules.includes('src/activities/index.js'), 'the activities, from dist/');
    const unwanted = [
      'src/inventory/',
      'npm:yaml/',
      'npm:nunjucks/',
      'npm:zod/',
      'npm:tsx/',
      'npm:swc-loader/',
      'sim/',
    ];
    // The SDK requires webpack's index (lazy getters) with its bundler; the compiler never loads.
    assert.ok(!r.modules.includes('npm:webpack/lib/webpack.js'), 'webpack itself loaded');
    assert.ok(r.modules.filter((m) => m.startsWith('npm:webpack/')).length <= 3, 'more of webpack loaded');
    assertNone(r, unwanted, 'worker');
  });
});
