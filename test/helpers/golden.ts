import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';

const GOLDEN_DIR = path.join(__dirname, '..', 'golden');

/**
 * Compare `actual` with the committed golden file `test/golden/<name>`. With UPDATE_GOLDEN=1 the
 * file is (re)written instead, so a deliberate change is one command plus a reviewed diff.
 */
export function assertGolden(name: string, actual: string): void {
  const file = path.join(GOLDEN_DIR, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, actual);
    return;
  }
  assert.ok(fs.existsSync(file), `golden file ${file} is missing; run with UPDATE_GOLDEN=1 to create it`);
  assert.equal(actual, fs.readFileSync(file, 'utf8'), `output differs from golden file ${name}`);
}
