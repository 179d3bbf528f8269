import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { installFiles, packFiles, parseInstalledFiles } from '../../src/remote/commands';
import { packTar, unpackTar } from '../../src/remote/tar';

/** Runs an argv locally, as the host would run it over SSH. */
function run(argv: string[], stdin: Buffer | string) {
  const r = spawnSync(argv[0]!, argv.slice(1), { input: stdin });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('tar streams of many small files, one command each way', () => {
  const files = [
    { path: 'global/global_ranktable_merge.json', content: Buffer.from('{"version": "1.0"}') },
    {
      path: 'prefill_config/local_ranktable_10.0.0.1_0123456789101112131415.json',
      content: Buffer.from('{}'),
    },
    // Longer than ustar's 100-byte name field: goes through the prefix field.
    {
      path: `global/collect_files_p/10.0.0.1/${'x'.repeat(90)}/local_ranktable_merge.json`,
      content: Buffer.from('[1]'),
    },
    { path: 'empty.json', content: Buffer.alloc(0) },
  ];

  it('GNU tar reads what packTar writes, and unpackTar what GNU tar writes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-tar-'));
    try {
      const x = run(['tar', '-x', '-f', '-', '-C', dir], packTar(files));
      assert.equal(x.code, 0, x.stderr);
      for (const f of files) assert.deepEqual(fs.readFileSync(path.join(dir, f.path)), f.content);

      const c = run(packFiles(dir), files.map((f) => f.path).join('\n') + '\n');
      assert.equal(c.code, 0, c.stderr);
      const back = unpackTar(c.stdout);
      assert.deepEqual(
        back.map((f) => [f.path, f.content.toString()]),
        files.map((f) => [f.path, f.content.toString()]),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses paths that are not clean and relative', () => {
    for (const bad of ['/etc/passwd', '../x', 'a//b', 'a/./b', ''])
      assert.throws(() => packTar([{ path: bad, content: Buffer.alloc(1) }]), /clean relative path/);
  });

  it('installFiles writes only what differs, atomically, and reports every checksum', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-install-'));
    try {
      for (const f of files) fs.mkdirSync(path.dirname(path.join(root, f.path)), { recursive: true });
      const first = run(installFiles(root), packTar(files));
      assert.equal(first.code, 0, first.stderr);
      const a = parseInstalledFiles(first.stdout.toString());
      assert.equal(a.written, files.length);
      for (const f of files) assert.equal(a.sha256.get(f.path), sha(f.content.toString()), f.path);

      const inode = fs.statSync(path.join(root, files[0]!.path)).ino;
      const changed = files.map((f, i) => (i === 1 ? { ...f, content: Buffer.from('{"changed": 1}') } : f));
      const second = parseInstalledFiles(run(installFiles(root), packTar(changed)).stdout.toString());
      assert.equal(second.written, 1, 'only the changed file is written');
      assert.equal(fs.statSync(path.join(root, files[0]!.path)).ino, inode, 'an equal file is left alone');
      assert.equal(fs.readFileSync(path.join(root, files[1]!.path), 'utf8'), '{"changed": 1}');
      assert.deepEqual(
        fs.readdirSync(root).filter((n) => n.startsWith('.incoming')),
        [],
        'no staging folder left behind',
      );

      // A symlink in place of a file is replaced by the file, even when it points at equal bytes.
      const linked = path.join(root, files[3]!.path);
      fs.writeFileSync(path.join(root, 'elsewhere'), files[3]!.content);
      fs.rmSync(linked);
      fs.symlinkSync(path.join(root, 'elsewhere'), linked);
      const third = parseInstalledFiles(run(installFiles(root), packTar(changed)).stdout.toString());
      assert.equal(third.written, 1);
      assert.ok(!fs.lstatSync(linked).isSymbolicLink());
      assert.equal(third.sha256.size, files.length);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
