'use strict';
// V8 code cache for the CommonJS modules a `deploy` process loads from dist/ and node_modules/
// (issue 12). Node 22 has this built in (module.enableCompileCache); the Node 20 this project
// supports does not, and the v8-compile-cache package keeps only what V8 compiled before a module
// ran, which measured no gain here. This keeps what was compiled by the time the process has
// started up — the functions that ran included — so the next start skips parsing and compiling
// them: `deploy worker` loads about 800 modules (the SDK worker, the client, grpc, rxjs, ssh2),
// and starts about 300 ms sooner with the cache.
//
// Safety: an entry is used only for the same file with the same content (its SHA-1 is stored
// with the entry), and V8 itself refuses a cache from another V8 version or other flags; any
// failure to read or write falls back to compiling. OMNI_DEPLOY_COMPILE_CACHE=off disables it.
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');

const HASH_BYTES = 20;

/** Entries to write: modules that had none, or a stale or refused one. */
const pending = new Map();
const stats = { used: 0, compiled: 0, refused: 0 };

function entryFile(dir, filename) {
  return path.join(dir, `${crypto.createHash('sha1').update(filename).digest('hex')}.bin`);
}

/** The cached data for `filename` when the entry was made from this very content. */
function readEntry(file, contentHash) {
  try {
    const entry = fs.readFileSync(file);
    return entry.subarray(0, HASH_BYTES).equals(contentHash) ? entry.subarray(HASH_BYTES) : undefined;
  } catch {
    return undefined;
  }
}

/** What Node's own Module.prototype._compile does for CommonJS, with a cache for the compile. */
function compileWithCache(dir, mod, content, filename) {
  const contentHash = crypto.createHash('sha1').update(content).digest();
  const file = entryFile(dir, filename);
  const cachedData = readEntry(file, contentHash);
  const script = new vm.Script(Module.wrap(content), {
    filename,
    cachedData,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  if (cachedData === undefined) stats.compiled++;
  else if (script.cachedDataRejected) stats.refused++;
  else stats.used++;
  if (cachedData === undefined || script.cachedDataRejected) pending.set(file, { script, contentHash });
  const require = (id) => mod.require(id);
  require.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  require.resolve.paths = (request) => Module._resolveLookupPaths(request, mod);
  require.main = process.mainModule;
  require.extensions = Module._extensions;
  require.cache = Module._cache;
  const wrapper = script.runInThisContext({ displayErrors: true });
  return wrapper.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
}

/** Write the pending entries (each through a temporary file: processes may share the folder). */
function flush(dir) {
  try {
    fs.mkdirSync(dir, { recursive: true });
    for (const [file, { script, contentHash }] of pending) {
      const partial = `${file}.${process.pid}.partial`;
      fs.writeFileSync(partial, Buffer.concat([contentHash, script.createCachedData()]));
      fs.renameSync(partial, file);
    }
  } catch {
    // A read-only checkout or a full disk: the next start compiles, as without the cache.
  }
  pending.clear();
}

/**
 * Cache the compiles of modules under `roots` in `dir`. Entries are written once the process has
 * started up (`settleMs` after the last module was loaded, or at exit if sooner), so they hold the
 * functions that ran while it did.
 */
function enableCompileCache({ dir, roots, settleMs = 2000 }) {
  if (process.env.OMNI_DEPLOY_COMPILE_CACHE === 'off') return;
  const original = Module.prototype._compile;
  let timer;
  Module.prototype._compile = function compile(content, filename, format) {
    // ES modules, and sources that import() (which a vm.Script compiles differently), as Node does.
    if (format === 'module' || !roots.some((r) => filename.startsWith(r)) || content.includes('import(')) {
      return original.call(this, content, filename, format);
    }
    clearTimeout(timer);
    timer = setTimeout(() => flush(dir), settleMs).unref();
    return compileWithCache(dir, this, content, filename);
  };
  process.once('exit', () => flush(dir));
}

module.exports = { enableCompileCache, stats };
