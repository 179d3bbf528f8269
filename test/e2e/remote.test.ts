import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  AuthenticationError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectionError,
  HostKeyMismatchError,
  Remote,
  RemoteConfigError,
  type RemoteHost,
  UnknownHostKeyError,
} from '../../src/remote';
import { startLoopbackSshd, type LoopbackSshd } from '../helpers/loopbackSshd';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/waitFor';

/** The remote layer against a real OpenSSH sshd on loopback. */
describe('remote layer over a real sshd', () => {
  let sshd: LoopbackSshd;
  let host: RemoteHost;
  let remote: Remote;
  let work: string;
  const others: Remote[] = [];

  const newRemote = (opts: Partial<ConstructorParameters<typeof Remote>[0]> = {}) => {
    const r = new Remote(opts);
    others.push(r);
    return r;
  };

  /** Polls until the local /proc (the sshd is on this machine) no longer has a live `pid`. */
  const waitGone = (pid: number, ms = 5000) =>
    waitFor(
      () => {
        const stat = fs.existsSync(`/proc/${pid}/stat`) ? fs.readFileSync(`/proc/${pid}/stat`, 'utf8') : '';
        return !stat || stat.split(') ')[1]?.startsWith('Z') === true;
      },
      { timeout: ms, interval: 50, what: `process ${pid} to end` },
    ).catch(() => false);

  before(async () => {
    sshd = await startLoopbackSshd();
    host = {
      name: 'p0',
      address: sshd.host,
      port: sshd.port,
      user: 'root',
      auth: { method: 'key', keyFile: sshd.keyPath },
      knownHostsFile: sshd.knownHostsPath,
      hostKeyPolicy: 'strict',
    };
    remote = new Remote();
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-remote-e2e-'));
  });

  after(async () => {
    await remote.closeAll();
    for (const r of others) await r.closeAll();
    await sshd.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs a command and returns output and exit code', async () => {
    const r = await remote.exec(host, ['sh', '-c', 'echo out; echo err >&2; exit 3'], { check: false });
    assert.deepEqual(r, { code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    const ok = await remote.exec(host, ['echo', 'hello']);
    assert.equal(ok.stdout, 'hello\n');
  });

  it('a non-zero exit throws CommandFailedError with argv, code and stderr tail', async () => {
    const err = await remote.exec(host, ['ls', '/definitely/not/here']).catch((e: unknown) => e);
    assert.ok(err instanceof CommandFailedError);
    assert.equal(err.type, 'CommandFailedError');
    assert.equal(err.retryable, false);
    assert.equal(err.exitCode, 2);
    assert.deepEqual(err.argv, ['ls', '/definitely/not/here']);
    assert.match(err.stderrTail, /No such file/);
    assert.match(err.message, new RegExp(`p0 \\(127\\.0\\.0\\.1:${sshd.port}\\)`));
  });

  it('argv reaches the remote program unchanged through the remote shell (with env, cwd, stdin)', async () => {
    const nasty = [
      "it's",
      '$(touch /tmp/omni-pwned)',
      '`id`',
      'a\nb',
      ' lead',
      '"q"',
      '\\',
      '*',
      '中文 🚀',
      '',
    ];
    const r = await remote.exec(host, ['sh', '-c', `printf '%s\\0' "$PWD" "$V" "$@"; cat`, 'sh', ...nasty], {
      env: { V: "v'$x" },
      cwd: work,
      stdin: 'from stdin',
    });
    const parts = r.stdout.split('\0');
    assert.deepEqual(parts.slice(0, -1), [work, "v'$x", ...nasty]);
    assert.equal(parts.at(-1), 'from stdin');
    assert.ok(!fs.existsSync('/tmp/omni-pwned'));
  });

  it('streams output lines to onOutput', async () => {
    const lines: string[] = [];
    await remote.exec(host, ['sh', '-c', 'for i in 1 2 3; do echo line$i; sleep 0.05; done; echo e >&2'], {
      onOutput: (line, stream) => lines.push(`${stream}:${line}`),
    });
    assert.deepEqual(lines, ['stdout:line1', 'stdout:line2', 'stdout:line3', 'stderr:e']);
  });

  it('reuses one connection for many calls, and reconnects after the server drops it', async () => {
    const r = newRemote();
    const before = sshd.acceptedLogins();
    await Promise.all(Array.from({ length: 12 }, (_, i) => r.exec(host, ['echo', String(i)])));
    for (let i = 0; i < 5; i++) await r.exec(host, ['true']);
    assert.equal(r.pool.connectionsOpened, 1);
    assert.equal(sshd.acceptedLogins() - before, 1);

    sshd.dropConnections();
    await new Promise((res) => setTimeout(res, 200));
    assert.equal((await r.exec(host, ['echo', 'again'])).stdout, 'again\n');
    assert.equal(r.pool.connectionsOpened, 2);
    assert.equal(sshd.acceptedLogins() - before, 2);
  });

  it('closes an idle connection and opens a new one on next use', async () => {
    const r = newRemote({ idleCloseMs: 150 });
    await r.exec(host, ['true']);
    await r.exec(host, ['true']);
    assert.equal(r.pool.connectionsOpened, 1);
    await new Promise((res) => setTimeout(res, 400));
    await r.exec(host, ['true']);
    assert.equal(r.pool.connectionsOpened, 2);
  });

  it('bounds concurrent channels per host', async () => {
    const r = newRemote({ maxChannelsPerHost: 2 });
    await r.exec(host, ['true']);
    const started = Date.now();
    await Promise.all(Array.from({ length: 4 }, () => r.exec(host, ['sleep', '0.4'])));
    // 4 sleeps through 2 slots take two rounds.
    assert.ok(Date.now() - started >= 800, `took ${Date.now() - started} ms`);
  });

  it('a command waiting for a channel slot can be cancelled while it waits', async () => {
    const r = newRemote({ maxChannelsPerHost: 1 });
    const holder = new AbortController();
    const busy = r.exec(host, ['sleep', '300'], { signal: holder.signal });
    await new Promise((res) => setTimeout(res, 300));
    const queued = new AbortController();
    const waiting = r.exec(host, ['echo', 'never'], { signal: queued.signal });
    queued.abort(new Error('cancelled while queued'));
    await assert.rejects(waiting, /cancelled while queued/);
    holder.abort(new Error('done'));
    await assert.rejects(busy, /done/);
    assert.equal((await r.exec(host, ['echo', 'slot free'])).stdout, 'slot free\n');
  });

  it('abort kills the remote command (its whole process group) and closes the channel', async () => {
    const ac = new AbortController();
    let pid = 0;
    let child = 0;
    const run = remote.exec(host, ['sh', '-c', 'sleep 300 & echo $$ $!; wait'], {
      signal: ac.signal,
      onOutput: (line, stream) => {
        if (stream !== 'stdout') return;
        [pid, child] = line.split(' ').map(Number) as [number, number];
        ac.abort(new Error('activity cancelled'));
      },
    });
    await assert.rejects(run, /activity cancelled/);
    assert.ok(pid > 0 && child > 0);
    assert.ok(await waitGone(pid), 'the shell is gone');
    assert.ok(await waitGone(child), 'its background sleep 300 is gone too');
    const check = await remote.exec(host, [
      'sh',
      '-c',
      `kill -0 ${child} 2>/dev/null && echo alive || echo gone`,
    ]);
    assert.equal(check.stdout, 'gone\n');
  });

  it('a timeout kills the remote command and throws CommandTimeoutError', async () => {
    let pid = 0;
    let running = 0;
    const err = await remote
      .exec(host, ['sh', '-c', 'echo $$; exec sleep 300'], {
        timeoutMs: 500,
        onOutput: (line, stream) => {
          if (stream === 'stdout') [pid, running] = [Number(line), Date.now()];
        },
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof CommandTimeoutError, String(err));
    assert.equal(err.retryable, true);
    assert.ok(pid > 0);
    // Ended by the timeout, not by the 300 s sleep: counted from when the command ran (a loaded
    // machine once took 6.6 s from before the SSH connection), with room for that load.
    const ran = Date.now() - running;
    assert.ok(ran < 30_000, `the command ended ${ran} ms after it started`);
    assert.ok(await waitGone(pid));
  });

  it('a command that ignores TERM is KILLed after the grace period', async () => {
    let pid = 0;
    const err = await remote
      .exec(host, ['sh', '-c', "trap '' TERM; echo $$; while :; do sleep 0.1; done"], {
        timeoutMs: 300,
        killGraceMs: 300,
        onOutput: (line, stream) => stream === 'stdout' && (pid = Number(line)),
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof CommandTimeoutError);
    assert.ok(pid > 0);
    assert.ok(await waitGone(pid));
  });

  it('sftp put and get', async () => {
    const local = path.join(work, 'up.bin');
    const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
    fs.writeFileSync(local, content);
    const remotePath = path.join(work, 'remote copy.bin');
    await remote.putFile(host, local, remotePath);
    const back = path.join(work, 'down.bin');
    await remote.getFile(host, remotePath, back);
    assert.ok(fs.readFileSync(back).equals(content));
  });

  it('writeFileAtomic replaces a file with the given mode; sha256 matches', async () => {
    const target = path.join(work, 'ranktable.json');
    fs.writeFileSync(target, 'old');
    await remote.writeFileAtomic(host, target, '{"new": true}\n', 0o640);
    assert.equal(fs.readFileSync(target, 'utf8'), '{"new": true}\n');
    assert.equal(fs.statSync(target).mode & 0o777, 0o640);
    assert.deepEqual(
      fs.readdirSync(work).filter((f) => f.endsWith('.tmp')),
      [],
    );
    const expected = createHash('sha256').update('{"new": true}\n').digest('hex');
    assert.equal(await remote.sha256(host, target), expected);
    assert.equal(await remote.sha256(host, path.join(work, 'absent')), undefined);
  });

  it('rsync pushes a directory; a second run moves no file data; --delete and pull work', async () => {
    const src = path.join(work, 'code');
    fs.mkdirSync(path.join(src, 'pkg'), { recursive: true });
    fs.writeFileSync(path.join(src, 'a.py'), 'print(1)\n'.repeat(1000));
    fs.writeFileSync(path.join(src, 'pkg', 'b with space.py'), 'x = "$(id)"\n');
    const dest = path.join(work, 'remote-code');

    const first = await remote.rsync(host, { direction: 'push', localDir: src, remoteDir: dest });
    assert.equal(first.filesTransferred, 2);
    assert.ok(first.literalBytes >= 9000);
    assert.equal(fs.readFileSync(path.join(dest, 'pkg', 'b with space.py'), 'utf8'), 'x = "$(id)"\n');

    const second = await remote.rsync(host, { direction: 'push', localDir: src, remoteDir: dest });
    assert.equal(second.filesTransferred, 0);
    assert.equal(second.literalBytes, 0);

    fs.writeFileSync(path.join(dest, 'stale.py'), 'old');
    await remote.rsync(host, { direction: 'push', localDir: src, remoteDir: dest, delete: true });
    assert.ok(!fs.existsSync(path.join(dest, 'stale.py')));

    const pulled = path.join(work, 'pulled');
    const back = await remote.rsync(host, { direction: 'pull', localDir: pulled, remoteDir: dest });
    assert.equal(back.filesTransferred, 2);
    assert.equal(fs.readFileSync(path.join(pulled, 'a.py'), 'utf8'), 'print(1)\n'.repeat(1000));
  });

  it('rsync is abortable: the local rsync and its ssh are killed', async () => {
    // A listener that accepts TCP but never speaks SSH keeps rsync waiting until it is killed.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('stop rsync')), 300);
      const started = Date.now();
      await assert.rejects(
        remote.rsync(
          { ...host, port },
          { direction: 'push', localDir: work, remoteDir: '/x', signal: ac.signal },
        ),
        /stop rsync/,
      );
      assert.ok(Date.now() - started < 3000);
    } finally {
      silent.close();
    }
  });

  describe('host keys', () => {
    it('strict: an unknown host is refused with UnknownHostKeyError', async () => {
      const kh = path.join(work, 'empty_known_hosts');
      fs.writeFileSync(kh, '');
      const err = await newRemote()
        .exec({ ...host, knownHostsFile: kh }, ['true'])
        .catch((e: unknown) => e);
      assert.ok(err instanceof UnknownHostKeyError, String(err));
      assert.equal(err.retryable, false);
      assert.equal(err.type, 'UnknownHostKeyError');
      assert.match(err.message, /p0 \(127\.0\.0\.1:\d+\) is not in .*empty_known_hosts.*SHA256:/);
    });

    it('strict: a different key for the host is refused with HostKeyMismatchError', async () => {
      const other = path.join(work, 'other_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
      const [type, b64] = fs.readFileSync(`${other}.pub`, 'utf8').split(' ');
      const kh = path.join(work, 'wrong_known_hosts');
      fs.writeFileSync(kh, `[${sshd.host}]:${sshd.port} ${type} ${b64}\n`);
      for (const policy of ['strict', 'accept-new'] as const) {
        const err = await newRemote()
          .exec({ ...host, knownHostsFile: kh, hostKeyPolicy: policy }, ['true'])
          .catch((e: unknown) => e);
        assert.ok(err instanceof HostKeyMismatchError, `${policy}: ${String(err)}`);
        assert.equal(err.retryable, false);
        assert.match(err.message, /does not match/);
        assert.match(err.message, /ssh-keygen -R/);
      }
      assert.equal(
        fs.readFileSync(kh, 'utf8').split('\n').length,
        2,
        'a mismatch never rewrites known_hosts',
      );
    });

    it('hashed known_hosts entries are accepted', async () => {
      const kh = path.join(work, 'hashed_known_hosts');
      fs.writeFileSync(kh, `${sshd.knownHostsLine}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
      assert.match(fs.readFileSync(kh, 'utf8'), /^\|1\|/);
      const r = await newRemote().exec({ ...host, knownHostsFile: kh }, ['echo', 'ok']);
      assert.equal(r.stdout, 'ok\n');
    });

    it('accept-new appends an unknown host, then strict accepts it', async () => {
      const kh = path.join(work, 'new_known_hosts');
      await newRemote().exec({ ...host, knownHostsFile: kh, hostKeyPolicy: 'accept-new' }, ['true']);
      assert.equal(fs.readFileSync(kh, 'utf8'), `${sshd.knownHostsLine}\n`);
      const r = await newRemote().exec({ ...host, knownHostsFile: kh }, ['echo', 'ok']);
      assert.equal(r.stdout, 'ok\n');
    });

    it('one pool verifies each host against its own known_hosts file, never reusing another’s connection', async () => {
      const kh = path.join(work, 'per_host_known_hosts');
      fs.writeFileSync(kh, '');
      const r = newRemote();
      assert.equal((await r.exec(host, ['echo', 'ok'])).stdout, 'ok\n');
      // Same user@address:port, but a file that does not know the host: refused, not served by
      // the connection the first file verified.
      const err = await r.exec({ ...host, knownHostsFile: kh }, ['true']).catch((e: unknown) => e);
      assert.ok(err instanceof UnknownHostKeyError, String(err));
      assert.equal(r.pool.connectionsOpened, 1);
    });

    it('~/ in the key and known_hosts paths is the worker’s home', async () => {
      const home = path.join(work, 'home');
      fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
      fs.copyFileSync(sshd.knownHostsPath, path.join(home, '.ssh', 'known_hosts'));
      fs.copyFileSync(sshd.keyPath, path.join(home, '.ssh', 'id'));
      const saved = process.env.HOME;
      process.env.HOME = home;
      try {
        const r = await newRemote().exec(
          { ...host, auth: { method: 'key', keyFile: '~/.ssh/id' }, knownHostsFile: '~/.ssh/known_hosts' },
          ['echo', 'ok'],
        );
        assert.equal(r.stdout, 'ok\n');
      } finally {
        process.env.HOME = saved;
      }
    });

    it('rsync uses the same known_hosts: an unknown host is refused', async () => {
      const kh = path.join(work, 'rsync_empty_known_hosts');
      fs.writeFileSync(kh, '');
      const err = await newRemote()
        .rsync(
          { ...host, knownHostsFile: kh },
          { direction: 'push', localDir: work, remoteDir: path.join(work, 'never') },
        )
        .catch((e: unknown) => e);
      assert.ok(err instanceof UnknownHostKeyError, String(err));
    });
  });

  describe('failures are classified', () => {
    it('a rejected key is AuthenticationError (not retryable)', async () => {
      const stranger = path.join(work, 'stranger_key');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
      const err = await newRemote()
        .exec({ ...host, auth: { method: 'key', keyFile: stranger } }, ['true'])
        .catch((e: unknown) => e);
      assert.ok(err instanceof AuthenticationError, String(err));
      assert.equal(err.retryable, false);
      assert.equal(err.type, 'AuthenticationError');
      assert.match(err.message, /as root on p0 .*stranger_key not accepted/);

      const rsyncErr = await newRemote()
        .rsync(
          { ...host, auth: { method: 'key', keyFile: stranger } },
          { direction: 'push', localDir: work, remoteDir: '/x' },
        )
        .catch((e: unknown) => e);
      assert.ok(rsyncErr instanceof AuthenticationError, String(rsyncErr));
    });

    it('a refused connection is ConnectionError (retryable)', async () => {
      const port = await freePort();
      const err = await newRemote()
        .exec({ ...host, port }, ['true'])
        .catch((e: unknown) => e);
      assert.ok(err instanceof ConnectionError, String(err));
      assert.equal(err.retryable, true);
      assert.equal(err.code, 'ECONNREFUSED');
      assert.match(err.message, new RegExp(`p0 \\(127\\.0\\.0\\.1:${port}\\).*connection refused`));
    });

    it('a missing key file is a non-retryable ConfigError', async () => {
      const err = await newRemote()
        .exec({ ...host, auth: { method: 'key', keyFile: path.join(work, 'nope') } }, ['true'])
        .catch((e: unknown) => e);
      assert.ok(err instanceof RemoteConfigError, String(err));
      assert.equal(err.type, 'ConfigError');
      assert.equal(err.retryable, false);
      assert.match(err.message, /cannot read the private key .*nope/);
    });
  });
});
