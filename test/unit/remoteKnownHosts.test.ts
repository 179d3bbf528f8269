import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOf,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
  readKnownHosts,
} from '../../src/remote/knownHosts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-known-hosts-'));

/** A fresh public key as known_hosts writes it: [type, base64, blob]. */
function newKey(type: 'ed25519' | 'ecdsa' | 'rsa' = 'ed25519'): { type: string; b64: string; blob: Buffer } {
  const file = path.join(dir, `k${Math.random().toString(36).slice(2)}`);
  execFileSync('ssh-keygen', [
    '-q',
    '-t',
    type,
    '-N',
    '',
    '-f',
    file,
    ...(type === 'rsa' ? ['-b', '2048'] : []),
  ]);
  const [t, b64] = fs.readFileSync(`${file}.pub`, 'utf8').split(' ');
  return { type: t ?? '', b64: b64 ?? '', blob: Buffer.from(b64 ?? '', 'base64') };
}

const a = newKey();
const b = newKey('ecdsa');
const c = newKey();

describe('known_hosts', () => {
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names hosts like ssh does', () => {
    assert.equal(knownHostsName('10.0.0.1'), '10.0.0.1');
    assert.equal(knownHostsName('10.0.0.1', 22), '10.0.0.1');
    assert.equal(knownHostsName('10.0.0.1', 2222), '[10.0.0.1]:2222');
  });

  it('reads the key type and prints an OpenSSH-style fingerprint', () => {
    assert.equal(keyTypeOf(a.blob), 'ssh-ed25519');
    const file = path.join(dir, 'fp.pub');
    fs.writeFileSync(file, `${a.type} ${a.b64}\n`);
    const expected = execFileSync('ssh-keygen', ['-lf', file], { encoding: 'utf8' }).split(' ')[1];
    assert.equal(fingerprint(a.blob), `ssh-ed25519 ${expected}`);
  });

  it('matches plain, [host]:port, comma lists and wildcards; knows every key of a host', () => {
    const lines = parseKnownHosts(
      [
        '# comment',
        '',
        `10.0.0.1,p0 ${a.type} ${a.b64}`,
        `10.0.0.1 ${b.type} ${b.b64}`,
        `[10.0.0.2]:2222 ${a.type} ${a.b64}`,
        `10.0.1.* ${c.type} ${c.b64}`,
      ].join('\n'),
    );
    assert.deepEqual(checkHostKey(lines, '10.0.0.1', a.blob), { status: 'known' });
    assert.deepEqual(checkHostKey(lines, '10.0.0.1', b.blob), { status: 'known' });
    assert.deepEqual(checkHostKey(lines, 'p0', a.blob), { status: 'known' });
    assert.deepEqual(checkHostKey(lines, '10.0.0.1', c.blob), {
      status: 'mismatch',
      knownTypes: ['ssh-ed25519', 'ecdsa-sha2-nistp256'],
    });
    assert.deepEqual(checkHostKey(lines, '[10.0.0.2]:2222', a.blob), { status: 'known' });
    // The same address on port 22 is a different known_hosts name.
    assert.deepEqual(checkHostKey(lines, '10.0.0.2', a.blob), { status: 'unknown' });
    assert.deepEqual(checkHostKey(lines, '10.0.1.7', c.blob), { status: 'known' });
    assert.deepEqual(knownKeyTypes(lines, '10.0.0.1'), ['ssh-ed25519', 'ecdsa-sha2-nistp256']);
  });

  it('honours negated patterns', () => {
    const lines = parseKnownHosts(`10.0.1.*,!10.0.1.9 ${a.type} ${a.b64}`);
    assert.equal(checkHostKey(lines, '10.0.1.8', a.blob).status, 'known');
    assert.equal(checkHostKey(lines, '10.0.1.9', a.blob).status, 'unknown');
  });

  it('matches entries hashed by ssh-keygen -H (HMAC-SHA1)', () => {
    const file = path.join(dir, 'hashed');
    fs.writeFileSync(file, `10.9.9.9 ${a.type} ${a.b64}\n[10.9.9.9]:2200 ${b.type} ${b.b64}\n`);
    execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
    const text = fs.readFileSync(file, 'utf8');
    assert.match(text, /^\|1\|/);
    assert.doesNotMatch(text, /10\.9\.9\.9/);
    const lines = readKnownHosts(file);
    assert.equal(checkHostKey(lines, '10.9.9.9', a.blob).status, 'known');
    assert.equal(checkHostKey(lines, '[10.9.9.9]:2200', b.blob).status, 'known');
    assert.equal(checkHostKey(lines, '10.9.9.9', c.blob).status, 'mismatch');
    assert.equal(checkHostKey(lines, '10.9.9.8', a.blob).status, 'unknown');
  });

  it('refuses @revoked keys and ignores @cert-authority lines', () => {
    const lines = parseKnownHosts(
      [`@revoked * ${a.type} ${a.b64}`, `@cert-authority * ${b.type} ${b.b64}`, `h1 ${a.type} ${a.b64}`].join(
        '\n',
      ),
    );
    assert.equal(checkHostKey(lines, 'h1', a.blob).status, 'revoked');
    assert.equal(checkHostKey(lines, 'h2', b.blob).status, 'unknown');
  });

  it('appends a plain line once, creating the file, and ssh-keygen -F finds it', () => {
    const file = path.join(dir, 'sub', 'known_hosts');
    appendKnownHost(file, '[127.0.0.5]:2222', a.blob);
    appendKnownHost(file, '[127.0.0.5]:2222', a.blob);
    assert.equal(fs.readFileSync(file, 'utf8'), `[127.0.0.5]:2222 ssh-ed25519 ${a.b64}\n`);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const found = execFileSync('ssh-keygen', ['-F', '[127.0.0.5]:2222', '-f', file], { encoding: 'utf8' });
    assert.match(found, /ssh-ed25519/);
  });

  it('a missing file knows no host', () => {
    assert.deepEqual(readKnownHosts(path.join(dir, 'absent')), []);
  });
});
