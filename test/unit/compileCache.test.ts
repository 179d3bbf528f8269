import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const HOOK = path.join(__dirname, '..', '..', 'scripts', 'compileCache.js');

/**
 * scripts/compileCache.js: bin/deploy's V8 code cache for the modules of dist/ and node_modules/
 * (issue 12). Each case runs a fresh Node (V8 takes a cache only from a process with the same
 * flags) that enables the cache over a folder of modules and requires the entry.
 */
describe('compile cache', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-compile-cache-'));
  const lib = path.join(dir, 'lib');
  const cache = path.join(dir, 'cache');
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  fs.mkdirSync(path.join(lib, 'sub'), { recursive: true });
  fs.writeFileSync(
    path.join(lib, 'entry.js'),
    [
      "const answer = require('./sub/answer');",
      "module.exports = { answer, resolved: require.resolve('./sub/answer'), main: require.main === undefined ? 'none' : 'set', dirname: __dirname };",
      '',
    ].join('\n'),
  );
  const writeAnswer = (n: number) =>
    fs.writeFileSync(
      path.join(lib, 'sub', 'answer.js'),
      `module.exports = function answer() { return ${n}; };\n`,
    );
  writeAnswer(41);
  fs.writeFileSync(path.join(lib, 'dynamic.js'), "module.exports = () => import('node:os');\n");

  function run(env: NodeJS.ProcessEnv = {}) {
    const code = `
      const { enableCompileCache, stats } = require(${JSON.stringify(HOOK)});
      enableCompileCache({ dir: ${JSON.stringify(cache)}, roots: [${JSON.stringify(lib + path.sep)}] });
      const entry = require(${JSON.stringify(path.join(lib, 'entry.js'))});
      require(${JSON.stringify(path.join(lib, 'dynamic.js'))})().then((os) => {
        console.log(JSON.stringify({ answer: entry.answer(), resolved: entry.resolved, dirname: entry.dirname,
          dynamic: typeof os.cpus, stats }));
      });`;
    const r = spawnSync(process.execPath, ['-e', code], {
      encoding: 'utf8',
      env: { ...process.env, ...env },
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as {
      answer: number;
      resolved: string;
      dirname: string;
      dynamic: string;
      stats: { used: number; compiled: number; refused: number };
    };
  }

  it('compiles the first time and keeps an entry per module', () => {
    const r = run();
    assert.equal(r.answer, 41);
    assert.equal(r.resolved, path.join(lib, 'sub', 'answer.js'));
    assert.equal(r.dirname, lib);
    assert.equal(r.dynamic, 'function', 'a module with import() is left to Node');
    assert.deepEqual(r.stats, { used: 0, compiled: 2, refused: 0 });
    assert.equal(fs.readdirSync(cache).filter((f) => f.endsWith('.bin')).length, 2);
  });

  it('uses the entries the next time', () => {
    const r = run();
    assert.equal(r.answer, 41);
    assert.deepEqual(r.stats, { used: 2, compiled: 0, refused: 0 });
  });

  it('never uses an entry for changed content, even of the same length', () => {
    // V8 checks only the length of the source; the entry's own hash of the content catches this.
    writeAnswer(42);
    const r = run();
    assert.equal(r.answer, 42);
    assert.deepEqual(r.stats, { used: 1, compiled: 1, refused: 0 });
    assert.deepEqual(run().stats, { used: 2, compiled: 0, refused: 0 });
  });

  it('falls back to compiling when an entry is damaged', () => {
    for (const f of fs.readdirSync(cache)) {
      const file = path.join(cache, f);
      const bytes = fs.readFileSync(file);
      fs.writeFileSync(file, Buffer.concat([bytes.subarray(0, 20), Buffer.from('not a V8 cache')]));
    }
    const r = run();
    assert.equal(r.answer, 42);
    assert.deepEqual(r.stats, { used: 0, compiled: 0, refused: 2 });
    assert.deepEqual(run().stats, { used: 2, compiled: 0, refused: 0 });
  });

  it('is off with OMNI_DEPLOY_COMPILE_CACHE=off', () => {
    fs.rmSync(cache, { recursive: true, force: true });
    const r = run({ OMNI_DEPLOY_COMPILE_CACHE: 'off' });
    assert.equal(r.answer, 42);
    assert.deepEqual(r.stats, { used: 0, compiled: 0, refused: 0 });
    assert.equal(fs.existsSync(cache), false);
  });
});
