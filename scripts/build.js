#!/usr/bin/env node
'use strict';
// npm run build: compile src/ and sim/*.ts into dist/ (tsconfig.build.json), bundle the workflows
// into dist/workflow-bundle.js for `deploy worker`, then stamp the build (scripts/build-stamp.js).
//   node scripts/build.js             always
//   node scripts/build.js --if-stale  only when a source is newer than the last build (setup.sh)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { isBuildFresh, removeStamp, writeStamp } = require('./build-stamp');

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

if (process.argv.includes('--if-stale') && isBuildFresh(ROOT)) {
  console.log('dist/ is up to date');
} else {
  build().catch((err) => {
    console.error(`build failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
