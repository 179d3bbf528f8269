import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  executorPathViolations,
  formatPathViolation,
  hostPathViolations,
  isWithin,
  lexicalNormalForm,
  managedFolderViolations,
} from '../../src/shared/hostPaths';

const rules = (violations: { rule: string }[]) => violations.map((v) => v.rule);

describe('host path rules (src/shared/hostPaths.ts)', () => {
  it('imports nothing, so the workflow sandbox and activities can both use it', () => {
    const source = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'shared', 'hostPaths.ts'), 'utf8');
    assert.doesNotMatch(source, /^\s*import\b|\brequire\(/m);
  });

  it('accepts absolute, normalised, plain paths', () => {
    for (const p of ['/', '/data/models/m', '/tmp/scripts_path', '/a/b-c_d.e+f@g%h=i']) {
      assert.deepEqual(hostPathViolations(p), [], p);
    }
  });

  it('names each broken rule once', () => {
    assert.deepEqual(rules(hostPathViolations('data')), ['absolute']);
    assert.deepEqual(rules(hostPathViolations('/tmp/a b/')), ['characters', 'normalised']);
    assert.deepEqual(rules(hostPathViolations(`/${'x'.repeat(300)}`)), ['length']);
    assert.deepEqual(rules(hostPathViolations(`/x${'/y'.repeat(2100)}`)), ['length']);
    assert.equal(
      formatPathViolation(hostPathViolations('/tmp/x/../../etc')[0]!),
      'path rule "normalised": "/tmp/x/../../etc" is not normalised (it means "/etc"): write the folder itself, without "." or ".." segments, "//" or a trailing "/"',
    );
  });

  it('reads paths the way the kernel does', () => {
    assert.equal(lexicalNormalForm('/srv/.'), '/srv');
    assert.equal(lexicalNormalForm('/tmp/..'), '/');
    assert.equal(lexicalNormalForm('/..'), '/');
    assert.equal(lexicalNormalForm('//a//b/'), '/a/b');
    assert.equal(lexicalNormalForm('~/a/../b'), '~/b');
    assert.equal(lexicalNormalForm('~/..'), undefined);
  });

  it('keeps managed folders away from the root, the system, SSH keys and the model', () => {
    const cases: [string, string[]][] = [
      ['/', ['root']],
      ['/etc', ['system-folder']],
      ['/etc/ssh', ['ssh-keys', 'system-folder']],
      ['/usr/local/x/y', ['system-folder']],
      ['/var/log', ['system-folder']],
      ['/var/lib/omni-deploy', []],
      ['/tmp', ['system-folder']],
      ['/tmp/scripts_path', []],
      ['/data/x/.ssh', ['ssh-keys']],
      ['/data/models', ['model-folder']],
      ['/data/models/m', ['model-folder']],
      ['/data/models/m/x', ['model-folder']],
      ['/data/models/mm', []],
      ['/srv/.', ['normalised']],
    ];
    for (const [folder, expected] of cases) {
      assert.deepEqual(rules(managedFolderViolations(folder, '/data/models/m')), expected, folder);
    }
    // Without a model path, or with an invalid one, the model rule stays out of it.
    assert.deepEqual(managedFolderViolations('/data/models/m'), []);
    assert.deepEqual(managedFolderViolations('/data/models/m', 'models'), []);
  });

  it('takes executor paths with ~/ and spaces, not with control characters', () => {
    assert.deepEqual(executorPathViolations('~/My Projects/key'), []);
    assert.deepEqual(rules(executorPathViolations('~/a\u0007b')), ['characters']);
    assert.deepEqual(rules(executorPathViolations('key')), ['absolute']);
    assert.deepEqual(rules(executorPathViolations('/a/../b')), ['normalised']);
  });

  it('tells inside from beside', () => {
    assert.ok(isWithin('/data/models/m', '/data/models'));
    assert.ok(isWithin('/data/models', '/data/models'));
    assert.ok(!isWithin('/data/models2', '/data/models'));
    assert.ok(isWithin('/x', '/'));
  });
});
