import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * The simulated hosts' `docker` (sim/host-docker.sh), run on this machine with a stand-in podman
 * that records its argv: bind-mount sources are created as Docker creates them, exactly those,
 * without a shell interpreting anything, and podman gets the command line unchanged.
 */
const WRAPPER = path.join(__dirname, '..', '..', 'sim', 'host-docker.sh');

const FAKE_PODMAN = `#!/bin/bash
printf '%s\\0' "$@" > "$PODMAN_CALLS"
`;

describe('sim host docker: bind-mount sources', () => {
  let dir: string;
  let calls: string;
  let env: NodeJS.ProcessEnv;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'host-docker-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'podman'), FAKE_PODMAN, { mode: 0o755 });
    calls = path.join(dir, 'calls');
    env = { PATH: `${bin}:${process.env.PATH}`, PODMAN_CALLS: calls };
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function docker(...args: string[]) {
    fs.rmSync(calls, { force: true });
    const r = spawnSync(WRAPPER, args, { env, encoding: 'utf8' });
    const argv = fs.existsSync(calls) ? fs.readFileSync(calls, 'utf8').split('\0').slice(0, -1) : undefined;
    return { ...r, argv };
  }
  const at = (p: string) => path.join(dir, p);
  const isDir = (p: string) => fs.statSync(at(p), { throwIfNoEntry: false })?.isDirectory() === true;

  it('creates every -v/--volume host folder that is missing, in all spellings, then runs podman unchanged', () => {
    const args = [
      'run',
      '-d',
      '--name',
      'eng',
      '-v',
      `${at('a/b')}:/a:ro`,
      `--volume=${at('eq')}:/eq`,
      '--volume',
      `${at('long')}:/long`,
      `-v${at('attached')}:/attached`,
      '-itv',
      `${at('cluster')}:/cluster`,
      '-e',
      `X=${at('env')}:/env`,
      '--network',
      'host',
      'localhost/omni-sim-engine:latest',
      'sh',
      '-c',
      'true',
      '-v',
      `${at('command')}:/c`,
    ];
    const r = docker(...args);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.argv, args, 'podman gets exactly the same command line');
    for (const d of ['a/b', 'eq', 'long', 'attached', 'cluster']) assert.ok(isDir(d), `${d} created`);
    assert.ok(!fs.existsSync(at('env')), 'an -e value is no bind mount');
    assert.ok(!fs.existsSync(at('command')), "the container's command is not docker's options");
  });

  it('leaves named volumes, container-only paths and existing sources alone', () => {
    fs.writeFileSync(at('file.conf'), 'x');
    const r = docker(
      'create',
      '-v',
      'data:/data',
      '-v',
      at('anonymous'),
      '-v',
      `${at('file.conf')}:/etc/x.conf`,
      'img',
    );
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(at('anonymous')), 'a path without ":" is a volume inside the container');
    assert.ok(!fs.existsSync(path.join(process.cwd(), 'data')), 'a named volume is no folder');
    assert.equal(fs.readFileSync(at('file.conf'), 'utf8'), 'x');
  });

  it('takes paths literally: spaces, quotes and $( ) are just characters', () => {
    const odd = at(`with space/$(touch ${at('pwned')})/'q'"`);
    const r = docker('container', 'run', '--rm', '-v', `${odd}:/x`, 'img');
    assert.equal(r.status, 0, r.stderr);
    assert.ok(fs.statSync(odd).isDirectory());
    assert.ok(!fs.existsSync(at('pwned')), 'nothing was executed');
  });

  it('fails like Docker when the folder cannot be made, without calling podman', () => {
    const r = docker('run', '-v', `${at('file.conf')}/sub:/x`, 'img');
    assert.equal(r.status, 125);
    assert.match(r.stderr, /error while creating mount source path '.*file\.conf\/sub'/);
    assert.equal(r.argv, undefined);
  });

  it('other commands pass straight through; rm gets podman --time 0 (docker rm -f kills at once)', () => {
    assert.deepEqual(docker('ps', '-v', `${at('ps')}:/x`).argv, ['ps', '-v', `${at('ps')}:/x`]);
    assert.ok(!fs.existsSync(at('ps')));
    assert.deepEqual(docker('rm', '-f', 'eng').argv, ['rm', '--time', '0', '-f', 'eng']);
  });
});
