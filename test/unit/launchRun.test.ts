import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  manifestFile,
  renderLaunchScript,
  renderStopScript,
  type EngineLaunchSpec,
  type ServersManifest,
} from '../../src/plan/launch';
import { freePort } from '../helpers/ports';
import { DECODE_D0 } from './launchLayouts';
import { waitFor } from '../helpers/waitFor';

/**
 * Runs generated scripts for real: a fake `vllm` on PATH records its argv and environment and
 * sleeps with a child (like an engine with worker processes), so process groups, pid files, the
 * manifest and the stop script are exercised end to end on this machine, loopback only.
 */

const FAKE_VLLM = `#!/bin/bash
out="$FAKE_VLLM_CALLS/rank_$VLLM_DP_RANK"
printf '%s\\0' "$@" > "$out.argv"
env -0 > "$out.env"
: > "$out.done"
if [ "\${FAKE_VLLM_IGNORE_TERM:-}" = 1 ]; then trap '' TERM; fi
while :; do sleep 300 & wait; done
`;

// Stand-ins for the commands an injected string would run if quoting failed: they only leave a
// mark (the scripts' own `rm -f` of pid files passes through to the real rm).
const FAKE_REBOOT = `#!/bin/sh
echo "reboot $*" >> "$INJECTION_MARKS"
`;
const FAKE_RM = `#!/bin/sh
for a in "$@"; do
  if [ "$a" = / ]; then echo "rm $*" >> "$INJECTION_MARKS"; exit 0; fi
done
exec /usr/bin/rm "$@"
`;

interface Stat {
  state: string;
  pgrp: number;
  session: number;
}

function procStat(pid: number): Stat | null {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { state: f[0]!, pgrp: Number(f[2]), session: Number(f[3]) };
  } catch {
    return null;
  }
}

/** Pids of non-zombie processes in a process group. */
function groupMembers(pgid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      const st = procStat(pid);
      return st !== null && st.pgrp === pgid && st.state !== 'Z';
    });
}

const waitUntil = (what: string, check: () => boolean) =>
  waitFor(check, { timeout: 5000, interval: 50, what });

function readNulList(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split('\0').slice(0, -1);
}

describe('launch and stop scripts, executed', () => {
  let dir: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  const started: number[] = [];
  let bystander: ChildProcess;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-run-'));
    bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'vllm'), FAKE_VLLM, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'reboot'), FAKE_REBOOT, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'rm'), FAKE_RM, { mode: 0o755 });
    env = { PATH: `${bin}:${process.env.PATH}`, HOME: dir, INJECTION_MARKS: path.join(dir, 'injected') };
    // An unrelated process that happens to run `sleep` like the fake engines: it must survive.
    bystander = spawn('sleep', ['300'], { stdio: 'ignore' });
  });

  after(() => {
    for (const pgid of started) {
      try {
        process.kill(-pgid, 'SIGKILL');
      } catch {
        // already stopped by the test
      }
    }
    bystander.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Where the fake engines of host `name` record their calls. */
  const callsOf = (name: string) => path.join(dir, name, 'calls');

  function specFor(name: string, ports: number[], over: Partial<EngineLaunchSpec> = {}): EngineLaunchSpec {
    fs.mkdirSync(callsOf(name), { recursive: true });
    return {
      ...DECODE_D0,
      host: { ...DECODE_D0.host, name, address: '127.0.0.1', masterAddress: '127.0.0.1' },
      dp: { size: ports.length, offset: 0, masterIp: '127.0.0.1', masterPort: 18100 },
      apiServers: ports.map((port, i) => ({ port, dpRank: i })),
      logDir: path.join(dir, name, 'log'),
      runDir: path.join(dir, name, 'run'),
      ...over,
      extraEnv: { FAKE_VLLM_CALLS: callsOf(name), ...over.extraEnv },
    };
  }

  function run(script: string) {
    return spawnSync('bash', ['-c', script], { env, encoding: 'utf8', timeout: 60_000 });
  }

  function launch(spec: EngineLaunchSpec) {
    const r = run(renderLaunchScript(spec));
    if (r.status === 0) {
      const m = JSON.parse(fs.readFileSync(manifestFile(spec.runDir), 'utf8')) as ServersManifest;
      started.push(...m.servers.map((s) => s.pid));
    }
    return r;
  }

  it('starts one process group per server with the per-rank environment, and writes servers.json', async () => {
    const ports = [await freePort(), await freePort(), await freePort()];
    const spec = specFor('d0', ports);
    const r = launch(spec);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /started 3 API server\(s\)/);

    const m = JSON.parse(fs.readFileSync(manifestFile(spec.runDir), 'utf8')) as ServersManifest;
    assert.equal(m.host, 'd0');
    assert.equal(m.role, 'decode');
    assert.deepEqual(
      m.servers.map((s) => [s.rank, s.dpRank, s.port, s.log]),
      ports.map((p, i) => [i, i, p, path.join(spec.logDir, `server_${i}.log`)]),
    );
    for (const s of m.servers) {
      const st = procStat(s.pid);
      assert.ok(st, `server ${s.rank} runs`);
      assert.equal(st.pgrp, s.pid, 'leads its own process group');
      assert.equal(st.session, s.pid, 'leads its own session');
      const [pid, startTime] = fs.readFileSync(s.pidFile, 'utf8').trim().split(' ');
      assert.equal(Number(pid), s.pid);
      assert.ok(Number(startTime) > 0);
      assert.ok(fs.readFileSync(s.log, 'utf8').includes(`starting DP rank ${s.dpRank} on port ${s.port}`));
    }
    const calls = callsOf('d0');
    await waitUntil('every fake engine to record its call', () =>
      m.servers.every((s) => fs.existsSync(path.join(calls, `rank_${s.dpRank}.done`))),
    );
    await waitUntil('every fake engine to start its child', () =>
      m.servers.every((s) => groupMembers(s.pid).length === 2),
    );
    for (const s of m.servers) {
      const argv = readNulList(path.join(calls, `rank_${s.dpRank}.argv`));
      assert.deepEqual(argv.slice(0, 2), ['serve', DECODE_D0.modelPath]);
      assert.deepEqual(argv.slice(-2), ['--port', String(s.port)]);
      assert.equal(
        argv[argv.indexOf('--kv-transfer-config') + 1],
        JSON.stringify(JSON.parse(argv[argv.indexOf('--kv-transfer-config') + 1]!)),
      );
      const e = new Map(
        readNulList(path.join(calls, `rank_${s.dpRank}.env`)).map((l) => [
          l.slice(0, l.indexOf('=')),
          l.slice(l.indexOf('=') + 1),
        ]),
      );
      assert.equal(e.get('VLLM_DP_SIZE'), '3');
      assert.equal(e.get('VLLM_DP_RANK'), String(s.dpRank));
      assert.equal(e.get('VLLM_DP_RANK_LOCAL'), String(s.dpRank));
      assert.equal(e.get('VLLM_DP_MASTER_IP'), '127.0.0.1');
      assert.equal(e.get('VLLM_DP_MASTER_PORT'), '18100');
      assert.equal(e.get('ROLE'), 'decode');
      assert.equal(e.get('GLOO_SOCKET_IFNAME'), 'lo', 'the interface holding 127.0.0.1');
      assert.equal(e.get('TP_SOCKET_IFNAME'), 'lo');
      assert.equal(e.get('ASCEND_RT_VISIBLE_DEVICES'), undefined);
    }

    // A second start over running servers is refused and leaves them alone.
    const again = run(renderLaunchScript(spec));
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /previous start are still running/);
    for (const s of m.servers) assert.equal(groupMembers(s.pid).length, 2);

    const stop = run(renderStopScript({ runDir: spec.runDir, ray: false }));
    assert.equal(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, /stopped 3 engine process group\(s\) \(0 needed KILL/);
    for (const s of m.servers) assert.deepEqual(groupMembers(s.pid), [], `group ${s.pid} is gone`);
    assert.ok(
      procStat(bystander.pid!) && procStat(bystander.pid!)!.state !== 'Z',
      'the unrelated sleep still runs',
    );
    assert.deepEqual(fs.readdirSync(spec.runDir), []);

    const twice = run(renderStopScript({ runDir: spec.runDir, ray: false }));
    assert.equal(twice.status, 0, twice.stderr);
    assert.match(twice.stdout, /stopped 0 engine process group/);
  });

  it('kills a server that ignores TERM after the grace period', async () => {
    const spec = specFor('stubborn', [await freePort()], { extraEnv: { FAKE_VLLM_IGNORE_TERM: '1' } });
    assert.equal(launch(spec).status, 0);
    const m = JSON.parse(fs.readFileSync(manifestFile(spec.runDir), 'utf8')) as ServersManifest;
    const pid = m.servers[0]!.pid;
    await waitUntil('the fake engine to set its trap', () =>
      fs.existsSync(path.join(callsOf('stubborn'), 'rank_0.env')),
    );
    const stop = run(renderStopScript({ runDir: spec.runDir, ray: false, graceSeconds: 1 }));
    assert.equal(stop.status, 0, stop.stderr);
    assert.match(stop.stdout, /1 needed KILL after 1 s/);
    assert.deepEqual(groupMembers(pid), []);
  });

  it('a busy API port is an error, not a shifted port, and nothing starts', async () => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const busyPort = (busy.address() as net.AddressInfo).port;
    try {
      const spec = specFor('busy', [await freePort(), busyPort]);
      const r = launch(spec);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, new RegExp(`API port ${busyPort} is already in use`));
      assert.deepEqual(fs.readdirSync(spec.runDir), []);
    } finally {
      busy.close();
    }
  });

  it('hostile inventory strings stay inert data', async () => {
    const evil = `'; rm -rf / # $(reboot) \`reboot\` %d\\n"`;
    const spec = specFor(`evil`, [await freePort()], {
      host: { ...DECODE_D0.host, name: `d0${evil}`, address: '127.0.0.1', masterAddress: '127.0.0.1' },
      modelPath: `/models/${evil}`,
      servedModelName: evil,
      extraArgs: [evil],
      extraEnv: { EVIL: evil },
      logDir: path.join(dir, 'evil', `log${evil}`),
    });
    const r = launch(spec);
    assert.equal(r.status, 0, r.stderr);
    const m = JSON.parse(fs.readFileSync(manifestFile(spec.runDir), 'utf8')) as ServersManifest;
    assert.equal(m.host, `d0${evil}`);
    assert.ok(fs.existsSync(m.servers[0]!.log));
    const calls = callsOf('evil');
    await waitUntil('the fake engine to record its call', () =>
      fs.existsSync(path.join(calls, 'rank_0.done')),
    );
    const argv = readNulList(path.join(calls, 'rank_0.argv'));
    assert.equal(argv[1], `/models/${evil}`);
    assert.equal(argv[argv.indexOf('--served-model-name') + 1], evil);
    assert.ok(argv.includes(evil));
    assert.ok(readNulList(path.join(calls, 'rank_0.env')).includes(`EVIL=${evil}`));
    assert.equal(fs.existsSync(env.INJECTION_MARKS!), false, 'no injected command ran');
    const stop = run(renderStopScript({ runDir: spec.runDir, ray: false }));
    assert.equal(stop.status, 0, stop.stdout + stop.stderr);
  });
});
