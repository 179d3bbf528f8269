#!/usr/bin/env node
'use strict';
// npm run build: compile src/ and sim/*.ts into dist/ (tsconfig.build.json), bundle the workflows
// into dist/workflow-bundle.js for `deploy worker`, `deploy plan`'s action into one file and the
// client side of the Temporal SDK into one file with a code cache, then stamp the build
// (scripts/build-stamp.js).
//   node scripts/build.js             always
//   node scripts/build.js --if-stale  only when a source is newer than the last build (setup.sh)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { isBuildFresh, removeStamp, writeStamp } = require('./build-stamp');
const { buildCachedBundle } = require('./cachedBundle');
const { pruneTemporalProtos } = require('./pruneTemporalProtos');

const ROOT = path.join(__dirname, '..');
const WORKFLOW_BUNDLE = path.join(ROOT, 'dist', 'workflow-bundle.js');

async function build() {
  const started = Date.now();
  // From here until the stamp, bin/deploy runs the sources: never a half-written dist/.
  removeStamp(ROOT);
  const tsc = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')],
    { stdio: 'inherit' },
  );
  if (tsc.status !== 0) throw new Error(`tsc failed (exit ${tsc.status ?? tsc.signal})`);
  await bundleWorkflows();
  await bundleClientActions();
  await bundleClientSdk();
  writeStamp(ROOT, started);
  console.log(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/** What the worker would otherwise bundle at every start (webpack, a few seconds of CPU). */
async function bundleWorkflows() {
  const { bundleWorkflowCode } = require('@temporalio/worker');
  const quiet = () => undefined;
  const { code } = await bundleWorkflowCode({
    workflowsPath: path.join(ROOT, 'src', 'workflows', 'index.ts'),
    logger: { log: quiet, trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error },
  });
  const partial = `${WORKFLOW_BUNDLE}.partial`;
  fs.writeFileSync(partial, code);
  fs.renameSync(partial, WORKFLOW_BUNDLE);
}

/**
 * `deploy plan` is run in loops and scripts; most of its start-up is loading zod, yaml and
 * nunjucks as CommonJS, where zod alone pulls in every locale it has. Bundled from the TypeScript
 * sources with the packages' ES module builds, esbuild keeps only what the command uses, in one
 * file (about a quarter of the command's CPU). The bundle replaces tsc's output of the same
 * module, so `require('../actions/plan')` in the command table loads it unchanged; its inputs are
 * listed next to it for the module test (test/unit/cliModules.test.ts). Only an action that no
 * other module of the process loads may be bundled: a second copy of a module would be a second
 * set of classes.
 */
const BUNDLED_ACTIONS = ['plan'];

async function bundleClientActions() {
  const esbuild = require('esbuild');
  for (const name of BUNDLED_ACTIONS) {
    const outfile = path.join(ROOT, 'dist', 'src', 'client', 'actions', `${name}.js`);
    const result = await esbuild.build({
      entryPoints: [path.join(ROOT, 'src', 'client', 'actions', `${name}.ts`)],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      conditions: ['module'],
      mainFields: ['module', 'main'],
      metafile: true,
      logLevel: 'warning',
    });
    // What is in the output: inputs the tree-shaking emptied (bytesInOutput 0) are not.
    const [output] = Object.values(result.metafile.outputs);
    const inputs = Object.entries(output.inputs)
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([file]) => file)
      .sort();
    fs.writeFileSync(`${outfile.slice(0, -3)}.inputs.json`, `${JSON.stringify(inputs, null, 1)}\n`);
  }
}

/**
 * `deploy status` and every other client command load @temporalio/client, /common and /proto
 * through src/temporal/clientSdk.ts: one bundle with a code cache (scripts/cachedBundle.js)
 * instead of about 300 files, and without the message definitions a client never uses
 * (scripts/pruneTemporalProtos.js). Its inputs are listed next to it, as the plan bundle's are.
 */
async function bundleClientSdk() {
  const outfile = path.join(ROOT, 'dist', 'src', 'temporal', 'clientSdk.js');
  const inputs = await buildCachedBundle({
    entry: path.join(ROOT, 'src', 'temporal', 'clientSdk.ts'),
    outfile,
    plugins: [pruneTemporalProtos()],
    warmUp: path.join(__dirname, 'clientSdkWarmUp.js'),
  });
  fs.writeFileSync(`${outfile.slice(0, -3)}.inputs.json`, `${JSON.stringify(inputs, null, 1)}\n`);
}

if (process.argv.includes('--if-stale') && isBuildFresh(ROOT)) {
  console.log('dist/ is up to date');
} else {
  build().catch((err) => {
    console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
