import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as registry from '../../src/workflows/patches';

/**
 * Patch IDs live in one registry (src/workflows/patches.ts): every `patched()`/`deprecatePatch()`
 * call in src names one of its constants, and every constant is used, so the list of patches in
 * docs/upgrades.md and their deprecation can be read from one file.
 */
const SRC = path.join(__dirname, '..', '..', 'src');
const REGISTRY = path.join(SRC, 'workflows', 'patches.ts');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

interface Call {
  file: string;
  argument: string;
}

function patchCalls(): Call[] {
  return sourceFiles(SRC)
    .filter((f) => f !== REGISTRY)
    .flatMap((file) =>
      [...fs.readFileSync(file, 'utf8').matchAll(/\b(?:patched|deprecatePatch)\(\s*([^)]*?)\s*\)/g)].map(
        (m) => ({ file: path.relative(SRC, file), argument: m[1]! }),
      ),
    );
}

const constants: [string, string][] = Object.entries(registry as Record<string, unknown>).flatMap(
  ([name, value]) => (typeof value === 'string' && /^[A-Z][A-Z0-9_]*$/.test(name) ? [[name, value]] : []),
);

describe('patch registry', () => {
  it('has calls to check', () => {
    assert.ok(patchCalls().length >= 9, 'the patched() calls in src');
  });

  it('every patched() call in src names a registry constant', () => {
    const names = new Set(constants.map(([name]) => name));
    const strays = patchCalls().filter((c) => !names.has(c.argument));
    assert.deepEqual(strays, [], 'use a constant from src/workflows/patches.ts');
  });

  it('every registry constant is used by a patched() call', () => {
    const used = new Set(patchCalls().map((c) => c.argument));
    assert.deepEqual(
      constants.filter(([name]) => !used.has(name)).map(([name]) => name),
      [],
    );
  });

  it('IDs are unique, and PATCHES lists them all', () => {
    const ids = constants.map(([, id]) => id);
    assert.equal(new Set(ids).size, ids.length);
    assert.deepEqual([...registry.PATCHES].sort(), [...ids].sort());
  });

  it('every constant has a doc comment', () => {
    const text = fs.readFileSync(REGISTRY, 'utf8');
    for (const [name] of constants) {
      assert.match(text, new RegExp(`\\*/\\nexport const ${name} =`), `${name} needs a doc comment`);
    }
  });
});
