import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import {
  AuthenticationError,
  Remote,
  RemoteConfigError,
  type PasswordRef,
  type RemoteHost,
  type SecretResolver,
} from '../../src/remote';
import { startSsh2TestServer, type Ssh2TestServer } from '../helpers/ssh2TestServer';

/**
 * Password auth. The machine's sshd could only check passwords against the real root account, so
 * these tests use ssh2's own server: password-only, running exec requests with the local bash.
 */
describe('password auth (ssh2 test server)', () => {
  const password = 'S3cret-pa$$word-for-test';
  let server: Ssh2TestServer;
  let host: RemoteHost;
  const remotes: Remote[] = [];
  const asked: PasswordRef[] = [];
  const ref = (inventoryHost: string): PasswordRef => ({ inventoryFile: '/srv/inv.yml', inventoryHost });

  const secrets: SecretResolver = {
    resolve: async (r) => {
      asked.push(r);
      if (r.inventoryHost === 'p0') return password;
      if (r.inventoryHost === 'wrong') return 'not-the-password';
      throw new Error(`lookup of ${r.inventoryHost} failed near "${password}"`);
    },
  };
  const newRemote = (withSecrets = true) => {
    const r = new Remote(withSecrets ? { secrets } : {});
    remotes.push(r);
    return r;
  };

  before(async () => {
    server = await startSsh2TestServer((client) => {
      client.on('authentication', (ctx) => {
        if (ctx.method === 'password' && ctx.username === 'deploy' && ctx.password === password) ctx.accept();
        else ctx.reject(['password']);
      });
      client.on('session', (accept) => {
        accept().on('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          const child = spawn('bash', ['-c', info.command], { stdio: 'pipe' });
          stream.pipe(child.stdin);
          child.stdout.pipe(stream, { end: false });
          child.stderr.pipe(stream.stderr, { end: false });
          child.on('close', (code) => {
            stream.exit(code ?? 1);
            stream.end();
          });
        });
      });
    });
    host = {
      name: 'p0',
      address: '127.0.0.1',
      port: server.port,
      user: 'deploy',
      auth: { method: 'password', password: ref('p0') },
      knownHostsFile: server.knownHostsPath,
      hostKeyPolicy: 'strict',
    };
  });

  after(async () => {
    for (const r of remotes) await r.closeAll();
    await server?.close();
  });

  const mentionsPassword = (err: unknown) => {
    const e = err as Error;
    const seen = [e.message, e.stack, JSON.stringify(e), String(e), String((e as { cause?: unknown }).cause)];
    return seen.some((s) => s?.includes(password));
  };

  it('connects with the password the worker resolves from a reference', async () => {
    const r = await newRemote().exec(host, ['sh', '-c', 'echo "$1"', 'sh', "it's ok"]);
    assert.equal(r.stdout, "it's ok\n");
    assert.deepEqual(asked, [ref('p0')]);
    assert.ok(!JSON.stringify(r).includes(password));
  });

  it('a wrong password is AuthenticationError without the password anywhere in it', async () => {
    const err = await newRemote()
      .exec({ ...host, auth: { method: 'password', password: ref('wrong') } }, ['true'])
      .catch((e: unknown) => e);
    assert.ok(err instanceof AuthenticationError, String(err));
    assert.equal(err.retryable, false);
    assert.match(err.message, /as deploy on p0 \(127\.0\.0\.1:\d+\) failed \(password not accepted\)/);
    assert.ok(!mentionsPassword(err));
    assert.ok(!(err.message + err.stack).includes('not-the-password'));
  });

  it('a resolver failure is a ConfigError that does not repeat what the resolver said', async () => {
    const err = await newRemote()
      .exec({ ...host, auth: { method: 'password', password: ref('missing') } }, ['true'])
      .catch((e: unknown) => e);
    assert.ok(err instanceof RemoteConfigError, String(err));
    assert.equal(err.type, 'ConfigError');
    assert.equal(err.retryable, false);
    assert.match(err.message, /cannot resolve the password of missing in \/srv\/inv\.yml for p0/);
    assert.ok(!mentionsPassword(err));
  });

  it('a worker without a secret resolver says so', async () => {
    const err = await newRemote(false)
      .exec(host, ['true'])
      .catch((e: unknown) => e);
    assert.ok(err instanceof RemoteConfigError, String(err));
    assert.equal(err.type, 'ConfigError');
    assert.match(err.message, /no secret resolver/);
  });

  it('rsync refuses password hosts with a ConfigError that says what to do', async () => {
    const err = await newRemote()
      .rsync(host, { direction: 'push', localDir: os.tmpdir(), remoteDir: '/tmp/x' })
      .catch((e: unknown) => e);
    assert.ok(err instanceof RemoteConfigError, String(err));
    assert.equal(err.type, 'ConfigError');
    assert.match(err.message, /needs key authentication.*give this host a private key/);
  });
});
