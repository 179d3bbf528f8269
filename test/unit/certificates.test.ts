import { after, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  clientIdentity,
  ensureCertificates,
  serverIdentity,
} from '../../src/temporal/production/certificates';

/**
 * `deploy certs` / the mTLS material of the production Temporal: made once, kept while it fits,
 * the server certificate re-issued (same CA) when clients must dial it by a new address; keys
 * private.
 */
const openssl = (...args: string[]) => {
  const r = spawnSync('openssl', args, { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

describe('production Temporal certificates', () => {
  const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'omni-certs-')), 'tls');
  after(() => fs.rmSync(path.dirname(dir), { recursive: true, force: true }));

  it('makes a CA, a server and client certificates signed by it, keys private', async () => {
    const r = await ensureCertificates(dir, { ips: ['10.0.0.5'], dns: ['temporal.example'] }, [
      'client',
      'w1',
    ]);
    assert.deepEqual(r.made, ['ca', 'server', 'client', 'w1']);
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    const server = serverIdentity(dir);
    openssl('verify', '-CAfile', server.ca, server.cert);
    const names = openssl('x509', '-in', server.cert, '-noout', '-ext', 'subjectAltName');
    for (const n of ['DNS:temporal', 'DNS:temporal.example', 'IP Address:10.0.0.5', 'IP Address:127.0.0.1'])
      assert.ok(names.includes(n), `server certificate names ${n}: ${names}`);
    const w1 = clientIdentity(dir, 'w1');
    openssl('verify', '-CAfile', w1.ca, w1.cert);
    assert.match(
      openssl('x509', '-in', w1.cert, '-noout', '-ext', 'extendedKeyUsage'),
      /TLS Web Client Authentication/,
    );
    for (const key of ['ca.key', 'server.key', 'client.key', 'w1.key']) {
      assert.equal(fs.statSync(path.join(dir, key)).mode & 0o077, 0, `${key} is private`);
    }
    // Nothing but the identities: no CSR or extension file left behind.
    assert.deepEqual(fs.readdirSync(dir).sort(), [
      'ca.key',
      'ca.pem',
      'client.key',
      'client.pem',
      'server.key',
      'server.pem',
      'w1.key',
      'w1.pem',
    ]);
  });

  it('run again, keeps everything byte for byte', async () => {
    const before = fs
      .readdirSync(dir)
      .sort()
      .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
    const r = await ensureCertificates(dir, { ips: ['10.0.0.5'], dns: [] }, ['client', 'w1']);
    assert.deepEqual(r.made, []);
    assert.deepEqual(
      fs
        .readdirSync(dir)
        .sort()
        .map((f) => fs.readFileSync(path.join(dir, f), 'utf8')),
      before,
    );
  });

  it('a new address re-issues only the server certificate, by the same CA and keeping the old names', async () => {
    const ca = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    const client = fs.readFileSync(path.join(dir, 'client.pem'), 'utf8');
    const r = await ensureCertificates(dir, { ips: ['10.0.0.6'], dns: [] }, ['client']);
    assert.deepEqual(r.made, ['server']);
    assert.equal(fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'), ca);
    assert.equal(fs.readFileSync(path.join(dir, 'client.pem'), 'utf8'), client);
    const names = openssl('x509', '-in', serverIdentity(dir).cert, '-noout', '-ext', 'subjectAltName');
    assert.ok(names.includes('IP Address:10.0.0.6') && names.includes('IP Address:10.0.0.5'), names);
    openssl('verify', '-CAfile', serverIdentity(dir).ca, serverIdentity(dir).cert);
  });

  it('refuses client names that are not file names or would replace the CA or server', async () => {
    for (const bad of ['../x', 'ca', 'server', 'a b']) {
      await assert.rejects(ensureCertificates(dir, { ips: [], dns: [] }, [bad]), /client certificate name/);
    }
  });
});
