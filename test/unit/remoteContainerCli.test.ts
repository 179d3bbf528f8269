import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  CommandFailedError,
  HostContainers,
  type ExecOptions,
  type ExecResult,
  type RemoteHost,
} from '../../src/remote';

const host: RemoteHost = {
  name: 'p0',
  address: '10.231.0.11',
  port: 22,
  user: 'root',
  auth: { method: 'key', keyFile: '/k' },
  knownHostsFile: '/kh',
  hostKeyPolicy: 'strict',
};

/** A fake host: records every argv and answers with the next canned result. */
function fake(...answers: Partial<ExecResult>[]) {
  const calls: { argv: readonly string[]; opts?: ExecOptions }[] = [];
  const exec = async (argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> => {
    calls.push({ argv, opts });
    return { code: 0, signal: null, stdout: '', stderr: '', ...answers.shift() };
  };
  return { calls, exec };
}

const inspectJson = JSON.stringify({
  Id: 'abc123',
  State: { Running: true, Status: 'running' },
  Config: { Image: 'localhost/engine:1', Labels: { 'omni-deploy.spec': 'h1' } },
  Image: 'sha256:fff',
});

for (const engine of ['docker', 'podman'] as const) {
  describe(`HostContainers (${engine})`, () => {
    it('inspect parses id, state, labels and image from the pretty-printed array both engines print', async () => {
      const f = fake({ stdout: `${JSON.stringify([JSON.parse(inspectJson)], null, 5)}\n` });
      const info = await new HostContainers(engine, host, f.exec).inspect('p0-engine');
      assert.deepEqual(info, {
        id: 'abc123',
        running: true,
        labels: { 'omni-deploy.spec': 'h1' },
        image: 'localhost/engine:1',
      });
      assert.deepEqual(f.calls[0]?.argv, [engine, 'container', 'inspect', 'p0-engine']);
      assert.equal(f.calls[0]?.opts?.check, false);
    });

    it('a missing container is undefined / false, not an error', async () => {
      const stderr =
        engine === 'docker'
          ? 'Error: No such container: x\n'
          : 'Error: no container with name or ID "x" found\n';
      const f = fake({ code: 1, stderr }, { code: 1, stderr }, { code: 1, stderr });
      const cli = new HostContainers(engine, host, f.exec);
      assert.equal(await cli.inspect('x'), undefined);
      assert.equal(await cli.stop('x'), false);
      assert.equal(await cli.remove('x'), false);
      assert.deepEqual(
        f.calls.map((c) => c.argv),
        [
          [engine, 'container', 'inspect', 'x'],
          [engine, 'stop', '-t', '10', 'x'],
          [engine, 'rm', '--force', 'x'],
        ],
      );
    });

    it('other failures throw CommandFailedError naming host, argv and stderr', async () => {
      const f = fake({ code: 125, stderr: 'Error: cannot connect to the engine\n' });
      const err = await new HostContainers(engine, host, f.exec).inspect('x').catch((e: unknown) => e);
      assert.ok(err instanceof CommandFailedError);
      assert.equal(err.exitCode, 125);
      assert.deepEqual(err.argv, [engine, 'container', 'inspect', 'x']);
      assert.match(err.message, /p0 \(10\.231\.0\.11\)/);
      assert.match(err.message, /cannot connect to the engine/);
    });

    it('run passes the plan argv through and returns the id', async () => {
      const f = fake({ stdout: 'Trying to pull…\ndeadbeef\n' });
      const runArgs = ['-d', '--name', 'p0-engine', '--env', 'A=$(x)', 'localhost/engine:1', 'sleep', 'inf'];
      const id = await new HostContainers(engine, host, f.exec).run(runArgs);
      assert.equal(id, 'deadbeef');
      assert.deepEqual(f.calls[0]?.argv, [engine, 'run', ...runArgs]);
    });

    it('exec builds detach, env, user and workdir flags before the name', async () => {
      const f = fake({ stdout: 'ok' });
      const r = await new HostContainers(engine, host, f.exec).exec('c1', ['sh', '-c', 'echo "$A"'], {
        detach: true,
        env: { A: 'x y', B: '1' },
        user: 'nobody',
        workdir: '/w',
      });
      assert.equal(r.stdout, 'ok');
      assert.deepEqual(f.calls[0]?.argv, [
        engine,
        'exec',
        '--detach',
        '--env',
        'A=x y',
        '--env',
        'B=1',
        '--user',
        'nobody',
        '--workdir',
        '/w',
        'c1',
        'sh',
        '-c',
        'echo "$A"',
      ]);
    });

    it('images, pull, logs, cp, version', async () => {
      const f = fake(
        { code: 0, stdout: 'sha256:1' },
        { code: 1, stderr: 'Error: failed to find image x: x: image not known' },
        {},
        { stdout: 'out', stderr: 'err' },
        {},
        { stdout: '4.3.1\n' },
      );
      const cli = new HostContainers(engine, host, f.exec, { sudo: true });
      assert.equal(await cli.imagePresent('img:1'), true);
      assert.equal(await cli.imagePresent('x'), false);
      await cli.pull('img:2');
      assert.deepEqual(await cli.logs('c1', { tail: 100, since: '2024-01-01T00:00:00Z' }), {
        stdout: 'out',
        stderr: 'err',
      });
      await cli.cp('/tmp/a b', 'c1:/etc/x');
      assert.equal(await cli.version(), '4.3.1');
      assert.deepEqual(
        f.calls.map((c) => c.argv),
        [
          [engine, 'image', 'inspect', '--format', '{{.Id}}', 'img:1'],
          [engine, 'image', 'inspect', '--format', '{{.Id}}', 'x'],
          [engine, 'pull', 'img:2'],
          [engine, 'logs', '--tail', '100', '--since', '2024-01-01T00:00:00Z', 'c1'],
          [engine, 'cp', '/tmp/a b', 'c1:/etc/x'],
          [engine, 'version', '--format', '{{.Client.Version}}'],
        ],
      );
      assert.ok(f.calls.every((c) => c.opts?.sudo === true));
    });
  });
}

/**
 * What Docker 20.10 (Debian's docker.io, the docker hosts of the simulated cluster) prints, as
 * captured there: the tool classifies these the same as podman's.
 */
describe('HostContainers on Docker 20.10: its own output and error texts', () => {
  it('inspect of a missing container prints [] and "No such container": undefined', async () => {
    const f = fake({ code: 1, stdout: '[]\n', stderr: 'Error: No such container: nope\n' });
    assert.equal(await new HostContainers('docker', host, f.exec).inspect('nope'), undefined);
  });

  it('a missing image ("No such image") is absent; stop of a missing container is false', async () => {
    const f = fake(
      { code: 1, stdout: '\n', stderr: 'Error: No such image: localhost/nope:1\n' },
      { code: 1, stderr: 'Error response from daemon: No such container: nope\n' },
    );
    const cli = new HostContainers('docker', host, f.exec);
    assert.equal(await cli.imagePresent('localhost/nope:1'), false);
    assert.equal(await cli.stop('nope', 1), false);
  });

  it('reads a real inspect: the image as run (Config.Image), not the digest (Image)', async () => {
    const real = [
      {
        Id: '76051cc922303b25dc0438ab4ac98d76390074ecbfc5476787241438a6b37299',
        Name: '/omni_x_p0',
        State: { Status: 'running', Running: true, Paused: false, Restarting: false },
        Image: 'sha256:f8b5b5039fc13ca8bb3f10bddbcb9b48809be4faa8f166eeb1906427ad7a6939',
        HostConfig: { Runtime: 'omni-runc', NetworkMode: 'host', Privileged: true },
        Config: {
          Image: 'localhost/omni-sim-engine:3dbea44e3085f025',
          Labels: { 'omni-deploy.spec-hash': 'abc' },
        },
      },
    ];
    const f = fake({ stdout: `${JSON.stringify(real, null, 4)}\n` });
    assert.deepEqual(await new HostContainers('docker', host, f.exec).inspect('omni_x_p0'), {
      id: real[0]!.Id,
      running: true,
      labels: { 'omni-deploy.spec-hash': 'abc' },
      image: 'localhost/omni-sim-engine:3dbea44e3085f025',
    });
  });

  it('a name already in use fails run with the daemon’s conflict text', async () => {
    const stderr =
      'docker: Error response from daemon: Conflict. The container name "/omni_x_p0" is already in use by container "76051cc9". You have to remove (or rename) that container to be able to reuse that name.\n';
    const f = fake({ code: 125, stderr });
    const err = await new HostContainers('docker', host, f.exec)
      .run(['--name', 'omni_x_p0', 'img'])
      .catch((e) => e);
    assert.ok(err instanceof CommandFailedError);
    assert.match(err.message, /already in use/);
  });
});
