import { afterEach, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CLAIM_DIRS,
  CLEANUP,
  RECORD_FILES,
  REMOVE_OWNED_FILES,
  ownershipArgv,
  parseCleanupSummary,
  type Owner,
} from '../../src/remote/ownership';

/**
 * The host-side ownership scripts, run here with a local shell in a scratch folder (they are
 * plain sh + coreutils + flock, as on a target host). Cleanup must remove exactly what the tool
 * recorded, keep what anybody else put there, and never follow a planted symbolic link.
 */
describe('host ownership manifest', () => {
  let tmp: string;
  let home: string;
  let root: string;
  const p0: Owner = { cluster: 'c1', host: 'p0' };
  const c0: Owner = { cluster: 'c1', host: 'c0' };

  const run = (script: string, owner: Owner, ...args: string[]) => {
    const [cmd, ...rest] = ownershipArgv(script, owner, args);
    const r = spawnSync(cmd!, rest, { env: { ...process.env, HOME: home }, encoding: 'utf8' });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const write = (p: string, text = 'x\n') => fs.writeFileSync(p, text);
  const manifest = () => path.join(home, '.omni-deploy', 'clusters', 'c1.manifest');

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-own-'));
    home = path.join(tmp, 'home');
    fs.mkdirSync(home);
    root = path.join(tmp, 'scripts_path');
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a machine mate recording while a cleanup empties the manifest does not lose its folder', async () => {
    // The cleanup removes the lock file and the state folder under the lock; a mate that had
    // opened the lock file meanwhile used to go on into the removed folder (59 of 60 rounds).
    const runAsync = (script: string, owner: Owner, ...args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const [cmd, ...rest] = ownershipArgv(script, owner, args);
        const child = spawn(cmd!, rest, { env: { ...process.env, HOME: home } });
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.on('exit', (code) => resolve({ code, stderr }));
      });
    fs.mkdirSync(root);
    // c0's file exists, so a cleanup of p0 that runs after c0 recorded it keeps its entry.
    write(path.join(root, 'c0-file'));
    for (let i = 0; i < 20; i++) {
      assert.equal(run(RECORD_FILES, p0, root, path.join(root, 'p0-file')).code, 0);
      const [, recorded] = await Promise.all([
        runAsync(CLEANUP, p0),
        runAsync(RECORD_FILES, c0, root, path.join(root, 'c0-file')),
      ]);
      assert.equal(recorded.code, 0, `round ${i}: ${recorded.stderr}`);
      assert.match(fs.readFileSync(manifest(), 'utf8'), /^c0\tfile\t/m);
      assert.equal(run(CLEANUP, c0).code, 0);
      write(path.join(root, 'c0-file'));
    }
  });

  it('machine mates cleaning up at once: the one that waited finds the manifest gone and is done', async () => {
    // p0's cleanup checks for the manifest, then waits for the lock that c0's cleanup holds while
    // it empties and removes the manifest; p0 used to read the missing file ("awk: cannot open
    // …manifest", seen in the fan-out e2e after a reboot). And a cleanup that removes the state
    // folders while a mate's `mkdir -p` walks them failed that mate ("cannot create directory
    // …/.omni-deploy", round 17 of one suite run).
    const runAsync = (script: string, owner: Owner) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const [cmd, ...rest] = ownershipArgv(script, owner, []);
        const child = spawn(cmd!, rest, { env: { ...process.env, HOME: home } });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        child.on('exit', (code) => resolve({ code, out }));
      });
    fs.mkdirSync(root);
    for (let i = 0; i < 30; i++) {
      assert.equal(run(RECORD_FILES, c0, root, path.join(root, 'c0-file')).code, 0);
      write(path.join(root, 'c0-file'));
      const results = await Promise.all([
        runAsync(CLEANUP, c0),
        runAsync(CLEANUP, p0),
        runAsync(CLEANUP, p0),
      ]);
      for (const r of results) assert.equal(r.code, 0, `round ${i}: ${r.out}`);
      assert.ok(!fs.existsSync(manifest()), `round ${i}: the manifest is gone`);
      assert.ok(
        !fs.existsSync(path.join(home, '.omni-deploy')),
        `round ${i}: no lock file or state folder left`,
      );
    }
  });

  it('records only the folders it creates; cleanup removes its files and empty folders, keeps the rest', () => {
    fs.mkdirSync(root); // the operator made the managed folder: not ours
    write(path.join(root, 'operator-notes.txt'));
    const run0 = path.join(root, 'run', 'p0');
    assert.equal(run(CLAIM_DIRS, p0, root, root, run0).code, 0);
    const ours = [path.join(root, 'run_server_p0.sh'), path.join(run0, 'servers.json')];
    assert.equal(run(RECORD_FILES, p0, root, ...ours).code, 0);
    for (const f of ours) write(f);
    write(path.join(run0, 'operator-file-inside-ours'));

    const lines = fs.readFileSync(manifest(), 'utf8').trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split('\t')),
      [
        ['p0', 'dir', root, path.join(root, 'run')],
        ['p0', 'dir', root, run0],
        ['p0', 'file', root, ours[0]],
        ['p0', 'file', root, ours[1]],
      ],
    );

    const r = run(CLEANUP, p0);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ours) assert.ok(!fs.existsSync(f), `${f} removed`);
    assert.ok(fs.existsSync(path.join(root, 'operator-notes.txt')), 'operator file beside ours kept');
    assert.ok(fs.existsSync(path.join(run0, 'operator-file-inside-ours')), 'operator file inside ours kept');
    assert.ok(fs.existsSync(root), 'a folder the tool did not create stays');
    assert.deepEqual(parseCleanupSummary(r.stdout), { files: 2, dirs: 0, kept: 2 });

    // Once the operator's file is gone, a second cleanup finishes the job and the manifest goes.
    fs.rmSync(path.join(run0, 'operator-file-inside-ours'));
    const again = run(CLEANUP, p0);
    assert.deepEqual(parseCleanupSummary(again.stdout), { files: 0, dirs: 2, kept: 0 });
    assert.ok(!fs.existsSync(path.join(root, 'run')));
    assert.ok(!fs.existsSync(manifest()), 'empty manifest removed');
    assert.ok(!fs.existsSync(path.join(home, '.omni-deploy')), 'state folder removed when empty');
    assert.ok(fs.existsSync(root));
  });

  it('creates and records missing parents of the managed folder, and removes them when empty', () => {
    const deep = path.join(tmp, 'a', 'b', 'scripts');
    assert.equal(run(CLAIM_DIRS, p0, deep, deep).code, 0);
    assert.ok(fs.statSync(deep).isDirectory());
    run(CLEANUP, p0);
    assert.ok(!fs.existsSync(path.join(tmp, 'a')), 'every folder it made is gone');
    assert.ok(fs.existsSync(tmp));
  });

  it('machine mates share the folders: the last one to clean up removes them', () => {
    assert.equal(run(CLAIM_DIRS, p0, root, root).code, 0);
    const proxyConf = path.join(root, 'proxy_c0', 'nginx.conf');
    assert.equal(run(CLAIM_DIRS, c0, root, path.dirname(proxyConf)).code, 0);
    run(RECORD_FILES, p0, root, path.join(root, 'run_server_p0.sh'));
    run(RECORD_FILES, c0, root, proxyConf);
    write(path.join(root, 'run_server_p0.sh'));
    write(proxyConf);

    run(CLEANUP, p0);
    assert.ok(fs.existsSync(proxyConf), "p0's cleanup leaves c0's file");
    assert.ok(!fs.existsSync(path.join(root, 'run_server_p0.sh')));
    run(CLEANUP, c0);
    assert.ok(!fs.existsSync(root), 'the shared folder goes with the last cleanup');
    assert.ok(!fs.existsSync(manifest()));
  });

  it('never follows a symbolic link planted inside a managed folder', () => {
    const outside = path.join(tmp, 'outside');
    fs.mkdirSync(outside);
    write(path.join(outside, 'precious'));
    assert.equal(run(CLAIM_DIRS, p0, root, path.join(root, 'run')).code, 0);
    const victim = path.join(root, 'run', 'precious');
    run(RECORD_FILES, p0, root, victim);
    // Someone replaces our folder by a link to theirs.
    fs.rmSync(path.join(root, 'run'), { recursive: true });
    fs.symlinkSync(outside, path.join(root, 'run'));

    const claim = run(CLAIM_DIRS, p0, root, path.join(root, 'run', 'p0'));
    assert.equal(claim.code, 3);
    assert.match(claim.stderr, /is a symbolic link inside the managed folder/);
    assert.equal(run(RECORD_FILES, p0, root, path.join(root, 'run', 'x')).code, 3);
    run(CLEANUP, p0);
    assert.ok(fs.existsSync(path.join(outside, 'precious')), 'the file behind the link survives');
    assert.ok(fs.existsSync(outside));
  });

  it('a managed folder that is itself a link is refused', () => {
    const outside = path.join(tmp, 'etc-like');
    fs.mkdirSync(outside);
    fs.symlinkSync(outside, root);
    const r = run(CLAIM_DIRS, p0, root, path.join(root, 'run'));
    assert.equal(r.code, 3);
    assert.ok(!fs.existsSync(path.join(outside, 'run')));
  });

  it('removes only recorded files among stale candidates', () => {
    assert.equal(run(CLAIM_DIRS, p0, root, root).code, 0);
    const ours = path.join(root, 'old_ranktable.json');
    const theirs = path.join(root, 'their.json');
    run(RECORD_FILES, p0, root, ours);
    write(ours);
    write(theirs);
    const r = run(REMOVE_OWNED_FILES, p0, ours, theirs);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [ours]);
    assert.ok(!fs.existsSync(ours));
    assert.ok(fs.existsSync(theirs));
    assert.ok(!fs.readFileSync(manifest(), 'utf8').includes(ours), 'its entry is gone');
  });

  it('a cleanup without a manifest changes nothing', () => {
    fs.mkdirSync(root);
    write(path.join(root, 'f'));
    const r = run(CLEANUP, p0);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /no manifest/);
    assert.ok(fs.existsSync(path.join(root, 'f')));
  });
});
