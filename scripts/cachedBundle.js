'use strict';
// A module of the build in dist/ replaced by one minified bundle and a V8 code cache (issue 12):
// scripts/build.js makes them; the module's compiled file becomes a stub that calls
// loadCachedBundle. A package loaded file by file costs a resolution, a read and a compile per
// file; from one file with the cache, V8 skips parsing and compiling what the build's run of the
// bundle already compiled. A cache V8 refuses (another Node version) costs only the compile.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const { createRequire } = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const cacheFileOf = (bundle) => `${bundle}.cache`;

/**
 * Evaluate a CommonJS bundle as Node would a module, with its code cache when there is one.
 * Returns the bundle's exports, whether V8 took the cache, and the compiled script (for a cache).
 */
function evaluateBundle(bundle) {
  const source = fs.readFileSync(bundle, 'utf8');
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFileOf(bundle));
  } catch {
    cachedData = undefined;
  }
  const wrapped = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapped, { filename: bundle, cachedData });
  const mod = { exports: {} };
  script
    .runInThisContext()
    .call(mod.exports, mod.exports, createRequire(bundle), mod, bundle, path.dirname(bundle));
  return {
    exports: mod.exports,
    cacheAccepted: cachedData !== undefined && !script.cachedDataRejected,
    script,
  };
}

/** What the stub in dist/ calls. */
function loadCachedBundle(bundle) {
  return evaluateBundle(bundle).exports;
}

/**
 * Bundle `entry` into `<outfile without .js>.bundle.js`, make its code cache in a fresh Node
 * (V8 takes a cache only from a process with the same flags: bin/deploy passes none), and write
 * the stub at `outfile`. `plugins` are esbuild's; `warmUp` a module whose exported function gets the
 * bundle's exports before the cache is taken, to run what commands run after loading it. Returns the bundle's inputs, for the module test.
 */
async function buildCachedBundle({ entry, outfile, plugins = [], warmUp }) {
  const esbuild = require('esbuild');
  const bundle = `${outfile.slice(0, -'.js'.length)}.bundle.js`;
  const result = await esbuild.build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    metafile: true,
    logLevel: 'warning',
    plugins,
  });
  fs.rmSync(cacheFileOf(bundle), { force: true });
  const made = spawnSync(
    process.execPath,
    [__filename, '--make-cache', bundle, ...(warmUp ? [warmUp] : [])],
    {
      encoding: 'utf8',
    },
  );
  if (made.status !== 0) throw new Error(`code cache of ${bundle}: ${made.stderr || made.stdout}`);
  const relative = path.relative(path.dirname(outfile), __filename);
  fs.writeFileSync(
    outfile,
    [
      "'use strict';",
      `// Written by scripts/build.js: ${path.basename(bundle)} with its V8 code cache (scripts/cachedBundle.js).`,
      `module.exports = require(${JSON.stringify(relative)}).loadCachedBundle(`,
      `  require('node:path').join(__dirname, ${JSON.stringify(path.basename(bundle))}),`,
      ');',
      '',
    ].join('\n'),
  );
  const [output] = Object.values(result.metafile.outputs);
  return Object.entries(output.inputs)
    .filter(([, i]) => i.bytesInOutput > 0)
    .map(([file]) => file)
    .sort();
}

/** In the child: run the bundle (and the warm-up), then keep everything V8 compiled meanwhile. */
async function makeCache(bundle, warmUp) {
  const { exports, script } = evaluateBundle(bundle);
  if (warmUp) await require(warmUp)(exports);
  fs.writeFileSync(cacheFileOf(bundle), script.createCachedData());
}

if (require.main === module) {
  const at = process.argv.indexOf('--make-cache');
  if (at < 0) throw new Error('usage: cachedBundle.js --make-cache BUNDLE [WARM_UP_MODULE]');
  makeCache(process.argv[at + 1], process.argv[at + 2]).then(
    // The SDK may hold timers or handles; the cache is written, nothing else to wait for.
    () => process.exit(0),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = { buildCachedBundle, evaluateBundle, loadCachedBundle };
