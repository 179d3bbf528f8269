import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');
const BUNDLE = path.join(ROOT, 'dist', 'src', 'temporal', 'clientSdk.bundle.js');

/** Run `code` in a fresh Node without flags, as bin/deploy runs: V8 takes a cache only then. */
function inFreshNode(code: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', code], { encoding: 'utf8', cwd: ROOT, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Issue 12: client commands load the Temporal client SDK as one bundle with a V8 code cache made
 * at build time, and without the message definitions a client never uses
 * (scripts/cachedBundle.js, scripts/pruneTemporalProtos.js).
 */
describe('the client SDK bundle', () => {
  before(() => {
    const build = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build.js'), '--if-stale'], {
      encoding: 'utf8',
      timeout: 600_000,
    });
    assert.equal(build.status, 0, `${build.stdout}${build.stderr}`);
  });

  it('is loaded with the code cache the build made (V8 does not refuse it)', () => {
    const r = inFreshNode(
      `const { evaluateBundle } = require('./scripts/cachedBundle');
       const { exports: sdk, cacheAccepted } = evaluateBundle(${JSON.stringify(BUNDLE)});
       console.log(JSON.stringify({ cacheAccepted, connect: typeof sdk.Connection.connect, client: typeof sdk.Client }));`,
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { cacheAccepted: true, connect: 'function', client: 'function' });
  });

  it('still resolves every message the client may send or receive, without Cloud, core or HTTP options', () => {
    // resolveAll throws on a reference to a type that is not there: what pruning must never leave.
    const r = inFreshNode(
      `const { loadCachedBundle } = require('./scripts/cachedBundle');
       const { temporal } = loadCachedBundle(${JSON.stringify(BUNDLE)});
       const root = temporal.root;
       root.resolveAll();
       const service = root.lookupService('temporal.api.workflowservice.v1.WorkflowService');
       console.log(JSON.stringify({
         methods: Object.keys(service.methods).length,
         withOptions: Object.values(service.methods).filter((m) => m.options).length,
         operator: Boolean(root.lookup('temporal.api.operatorservice.v1.OperatorService')),
         health: Boolean(root.lookup('grpc.health.v1.Health')),
         failure: Boolean(root.lookup('temporal.api.errordetails.v1.WorkflowExecutionAlreadyStartedFailure')),
         cloud: Boolean(root.lookup('temporal.api.cloud')),
         coresdk: Boolean(root.lookup('coresdk')),
       }));`,
    );
    assert.equal(r.status, 0, r.stderr);
    const found = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.ok((found.methods as number) > 50, `WorkflowService has ${String(found.methods)} methods`);
    assert.deepEqual(
      { ...found, methods: 'many' },
      {
        methods: 'many',
        withOptions: 0,
        operator: true,
        health: true,
        failure: true,
        cloud: false,
        coresdk: false,
      },
    );
  });

  it('refuses to prune a json-module it does not recognise', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JavaScript of the build
    const { pruneJsonModule } = require('../../scripts/pruneTemporalProtos') as {
      pruneJsonModule(source: string): string;
    };
    assert.throws(() => pruneJsonModule('module.exports = {};\n'), /no addJSON/);
    assert.throws(
      () => pruneJsonModule('x.addJSON({"temporal": {"nested": {}}\n});\n'),
      /temporal\.api\.cloud not found/,
    );
    const real = fs.readFileSync(
      path.join(ROOT, 'node_modules', '@temporalio', 'proto', 'protos', 'json-module.js'),
      'utf8',
    );
    const pruned = pruneJsonModule(real);
    assert.ok(pruned.length < real.length * 0.7, `${pruned.length} of ${real.length} bytes`);
    assert.match(pruned, /module\.exports = \$root;/);
  });
});
