import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

const ENGINE = path.join(__dirname, '..', '..', 'sim', 'engine');

/**
 * The engine simulator's own Go tests (sim/engine/*_test.go): the performance model's formulas
 * and schedulers in virtual time, vLLM's metrics exposition, and the HTTP server at a tiny time
 * scale. Built as sim/build-images.sh builds the simulator (static, this machine's toolchain,
 * modules from the module proxy). `go vet` stays out of this run (it costs more than the tests);
 * the standard library comes from Go's build cache, which scripts/setup.sh's Temporal build and
 * every `deploy sim up` fill: ~6 s then, a minute with an empty cache on two busy cores.
 */
describe('engine simulator (Go)', () => {
  it('go test ./... passes in sim/engine', { timeout: 240_000 }, () => {
    const r = spawnSync('go', ['test', '-vet=off', '-count=1', './...'], {
      cwd: ENGINE,
      encoding: 'utf8',
      env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      timeout: 230_000,
    });
    assert.equal(r.error, undefined, `go test could not run: ${String(r.error)}`);
    assert.equal(r.status, 0, `go test failed:\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ok\s+omni-deploy\/sim\/engine\s/m);
  });
});
