import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  authorizeKey,
  parseRelayFolder,
  placeRelayKey,
  relayKeyLine,
  removeRelayFolders,
  revokeKeys,
} from '../../src/remote/commands';
import { relayRsyncArgv } from '../../src/remote/rsync';
import { expiryDate } from '../../src/activities/relayKeys';

const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAbcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

/** Runs a command builder's argv as the remote shell would, with HOME in a scratch folder. */
function run(
  home: string,
  argv: string[],
  stdin?: string,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: { PATH: process.env.PATH, HOME: home },
    input: stdin,
    encoding: 'utf8',
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function scratchHome(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'omni-relay-home-'));
}

/**
 * The host-side commands of a relay session (issue 16), run for real against a scratch home:
 * the key goes in once and only for its session, and out again without touching anything else.
 */
describe('relay commands', () => {
  const line = (session: string, from = '10.0.0.1') => relayKeyLine(PUB, session, from, '20261203');

  it('builds a restricted, expiring authorized_keys line that names its session', () => {
    assert.equal(
      line('c1@abc123'),
      `restrict,from="10.0.0.1",expiry-time="20261203" ${PUB} omni-deploy-relay:c1@abc123`,
    );
    assert.throws(() => relayKeyLine(PUB, 'c1@abc123', '10.0.0.1" ,command="sh', '20261203'), /no quotes/);
    assert.throws(() => relayKeyLine('ssh-rsa AAAA', 'c1@abc123', '10.0.0.1', '20261203'), /ssh-ed25519/);
    assert.throws(() => relayKeyLine(PUB, 'c1; rm -rf /', '10.0.0.1', '20261203'), /<cluster>@<id>/);
    assert.equal(expiryDate(new Date('2026-12-31T23:00:00Z'), 2), '20270102');
  });

  it('authorizes once, keeps the operator’s lines, and ends a last line that had no newline', () => {
    const home = scratchHome();
    fs.mkdirSync(path.join(home, '.ssh'), { mode: 0o700 });
    const file = path.join(home, '.ssh', 'authorized_keys');
    fs.writeFileSync(file, 'ssh-ed25519 AAAAoperator operator@laptop', { mode: 0o600 });
    for (let i = 0; i < 2; i++) assert.equal(run(home, authorizeKey(line('c1@abc123'))).code, 0);
    assert.equal(
      fs.readFileSync(file, 'utf8'),
      `ssh-ed25519 AAAAoperator operator@laptop\n${line('c1@abc123')}\n`,
    );
    // A fresh home: ~/.ssh and the file are made private.
    const fresh = scratchHome();
    assert.equal(run(fresh, authorizeKey(line('c1@abc123'))).code, 0);
    assert.equal(fs.statSync(path.join(fresh, '.ssh')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(fresh, '.ssh', 'authorized_keys')).mode & 0o777, 0o600);
  });

  it('revokes one session, or every session of one cluster, and nothing else', () => {
    const home = scratchHome();
    fs.mkdirSync(path.join(home, '.ssh'));
    const file = path.join(home, '.ssh', 'authorized_keys');
    const operator = 'ssh-ed25519 AAAAoperator omni-deploy-relay:c1@abc123-but-not-ours-in-the-middle x';
    fs.writeFileSync(file, `${operator}\n`, { mode: 0o640 });
    for (const s of ['c1@aaa', 'c1@bbb', 'c1.x@ccc', 'c2@ddd']) run(home, authorizeKey(line(s)));
    assert.equal(run(home, revokeKeys({ session: 'c1@aaa' })).code, 0);
    assert.deepEqual(fs.readFileSync(file, 'utf8').trim().split('\n'), [
      operator,
      line('c1@bbb'),
      line('c1.x@ccc'),
      line('c2@ddd'),
    ]);
    // Cluster c1: not c1.x (a cluster name never holds '@'), not c2.
    assert.equal(run(home, revokeKeys({ cluster: 'c1' })).code, 0);
    assert.deepEqual(fs.readFileSync(file, 'utf8').trim().split('\n'), [
      operator,
      line('c1.x@ccc'),
      line('c2@ddd'),
    ]);
    assert.equal(fs.statSync(file).mode & 0o777, 0o640, 'the file keeps its mode');
    // Nothing to revoke, or no file at all: fine.
    assert.equal(run(home, revokeKeys({ cluster: 'c1' })).code, 0);
    assert.equal(run(scratchHome(), revokeKeys({ cluster: 'c1' })).code, 0);
  });

  it('places the key and each receiver’s host keys privately, and removes them by session or cluster', () => {
    const home = scratchHome();
    const place = (session: string, tag: string, known: string) => {
      const r = run(home, placeRelayKey(session, tag, known), 'PRIVATE KEY\n');
      assert.equal(r.code, 0, r.stderr);
      return parseRelayFolder(r.stdout);
    };
    const folder = place('c1@aaa', 'aaaa0000', '10.0.0.2 ssh-ed25519 AAAAhostkey2');
    assert.equal(folder, path.join(home, '.omni-deploy', 'relay', 'c1@aaa'));
    place('c1@aaa', 'bbbb1111', '10.0.0.3 ssh-ed25519 AAAAhostkey3');
    place('c1@bbb', 'aaaa0000', 'x');
    place('c2@ccc', 'aaaa0000', 'x');
    assert.equal(fs.readFileSync(path.join(folder, 'key'), 'utf8'), 'PRIVATE KEY\n');
    assert.equal(fs.statSync(path.join(folder, 'key')).mode & 0o777, 0o600);
    assert.equal(fs.statSync(folder).mode & 0o777, 0o700);
    assert.equal(
      fs.readFileSync(path.join(folder, 'known_hosts.aaaa0000'), 'utf8'),
      '10.0.0.2 ssh-ed25519 AAAAhostkey2\n',
    );
    assert.equal(
      fs.readFileSync(path.join(folder, 'known_hosts.bbbb1111'), 'utf8'),
      '10.0.0.3 ssh-ed25519 AAAAhostkey3\n',
    );
    assert.deepEqual(fs.readdirSync(folder).sort(), ['key', 'known_hosts.aaaa0000', 'known_hosts.bbbb1111']);

    const relayDir = path.join(home, '.omni-deploy', 'relay');
    assert.equal(run(home, removeRelayFolders({ session: 'c1@aaa' })).code, 0);
    assert.deepEqual(fs.readdirSync(relayDir).sort(), ['c1@bbb', 'c2@ccc']);
    assert.equal(run(home, removeRelayFolders({ cluster: 'c1' })).code, 0);
    assert.deepEqual(fs.readdirSync(relayDir), ['c2@ccc']);
    fs.mkdirSync(path.join(home, '.omni-deploy', 'clusters'));
    assert.equal(run(home, removeRelayFolders({ cluster: 'c2' })).code, 0);
    assert.equal(fs.existsSync(relayDir), false, 'the empty relay folder goes too');
    // ~/.omni-deploy holds the ownership manifests as well: never removed here, even empty.
    fs.rmdirSync(path.join(home, '.omni-deploy', 'clusters'));
    assert.equal(run(home, removeRelayFolders({ cluster: 'c2' })).code, 0);
    assert.ok(fs.existsSync(path.join(home, '.omni-deploy')), '~/.omni-deploy stays');
    assert.equal(run(home, removeRelayFolders({ cluster: 'c2' })).code, 0, 'nothing left is fine');
  });

  it('has the sender check the receiver by the handed-on host key only, with the session key', () => {
    const argv = relayRsyncArgv(
      {
        name: 'p3',
        address: '10.0.0.3',
        port: 2222,
        user: 'deploy',
        auth: { method: 'key', keyFile: '/keys/id' },
        knownHostsFile: '/exec/known_hosts',
        hostKeyPolicy: 'accept-new',
      },
      { folder: '/home/deploy/.omni-deploy/relay/c1@aaa', knownHostsTag: 'aaaa0000' },
      '/data/code/omniinfer',
      ['.omni-deploy-installed'],
    );
    assert.equal(argv[0], 'rsync');
    const ssh = argv[argv.indexOf('-e') + 1]!;
    assert.match(ssh, /-i \/home\/deploy\/\.omni-deploy\/relay\/c1@aaa\/key/);
    assert.match(
      ssh,
      /UserKnownHostsFile=\/home\/deploy\/\.omni-deploy\/relay\/c1@aaa\/known_hosts\.aaaa0000/,
    );
    // Never accept-new on a relay, whatever the executor's policy: the key was handed on verified.
    assert.match(ssh, /StrictHostKeyChecking=yes/);
    assert.match(ssh, /-p 2222 -l deploy/);
    assert.deepEqual(argv.slice(-2), ['/data/code/omniinfer/', '10.0.0.3:/data/code/omniinfer/']);
    assert.ok(argv.includes('--exclude=.omni-deploy-installed'));
  });
});
