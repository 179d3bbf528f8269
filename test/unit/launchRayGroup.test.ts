import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
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
import { PREFILL_HEAD_P0, PREFILL_WORKER_P1 } from './launchLayouts';
import { waitFor } from '../helpers/waitFor';

/**
 * The Ray group of a prefill instance over several hosts, with the generated scripts run for real
 * against a stand-in `ray` (its group is a file of node addresses; `status` and `list nodes` print
 * Ray's layouts) and a stand-in `vllm`: the head's engine starts only once every member is in the
 * group, a member missing past the timeout is named in the server log, and a member that cannot
 * join fails its own step naming itself.
 */

const FAKE_RAY = `#!/bin/bash
nodes="$FAKE_RAY/nodes"
case "$1 \${2:-}" in
  "stop "*) exit 0 ;;
  "start --head"*) echo 127.0.0.1 > "$nodes"; echo "Ray runtime started." ;;
  "start --address"*)
    if [ -e "$FAKE_RAY/refuse" ]; then echo "ConnectionError: Unable to connect to GCS at \${2#--address=}."; exit 1; fi
    echo "$FAKE_RAY_SELF" >> "$nodes" ;;
  "status "*)
    [ -s "$nodes" ] || exit 1
    echo "Node status"; echo "Active:"
    while read -r ip; do echo " 1 node_$(echo "$ip" | md5sum | cut -c1-20)"; done < "$nodes"
    echo "Pending:"; echo " (no pending nodes)" ;;
  "list nodes")
    echo "    NODE_ID  NODE_IP  STATE"
    n=0; while read -r ip; do echo " $n  node_x  $ip  ALIVE"; n=$((n + 1)); done < "$nodes" ;;
  *) echo "fake ray: $*" >&2; exit 2 ;;
esac
`;

const FAKE_VLLM = `#!/bin/bash
printf '%s\\0' "$@" > "$FAKE_VLLM_CALLS/argv"
while :; do sleep 300 & wait; done
`;

describe('multi-node prefill: the Ray group before the engine', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const groups: number[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'launch-ray-'));
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'ray'), FAKE_RAY, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'vllm'), FAKE_VLLM, { mode: 0o755 });
    env = { PATH: `${bin}:${process.env.PATH}`, HOME: dir };
  });

  after(() => {
    for (const g of groups) {
      try {
        process.kill(-g, 'SIGKILL');
      } catch {
        // stopped by the test
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  async function headSpec(name: string, members: { name: string; address: string }[], timeout: number) {
    const calls = path.join(dir, name, 'calls');
    fs.mkdirSync(calls, { recursive: true });
    const spec: EngineLaunchSpec = {
      ...PREFILL_HEAD_P0,
      host: { ...PREFILL_HEAD_P0.host, address: '127.0.0.1', masterAddress: '127.0.0.1' },
      apiServers: [{ port: await freePort(), dpRank: 0 }],
      multiNode: {
        isHead: true,
        headAddress: '127.0.0.1',
        nodeIpList: ['127.0.0.1', ...members.map((m) => m.address)],
        nodeNames: ['p0', ...members.map((m) => m.name)],
        nnodes: members.length + 1,
        nodeRank: 0,
        joinTimeoutSeconds: timeout,
      },
      extraEnv: { FAKE_VLLM_CALLS: calls },
      logDir: path.join(dir, name, 'log'),
      runDir: path.join(dir, name, 'run'),
    };
    const ray = path.join(dir, name, 'ray');
    fs.mkdirSync(ray);
    return { spec, calls, nodes: path.join(ray, 'nodes'), env: { ...env, FAKE_RAY: ray } };
  }

  function run(script: string, runEnv: NodeJS.ProcessEnv) {
    return spawnSync('bash', ['-c', script], { env: runEnv, encoding: 'utf8', timeout: 60_000 });
  }

  const alive = (pid: number) => {
    try {
      return !fs.readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
    } catch {
      return false;
    }
  };

  const waitUntil = (what: string, check: () => boolean) =>
    waitFor(check, { timeout: 10_000, interval: 50, what });

  it('the head returns at once; its engine waits until the member joined, then runs in the same process', async () => {
    const h = await headSpec('joins', [{ name: 'p1', address: '10.0.0.2' }], 60);
    const r = run(renderLaunchScript(h.spec), h.env);
    assert.equal(r.status, 0, r.stderr);
    const server = (JSON.parse(fs.readFileSync(manifestFile(h.spec.runDir), 'utf8')) as ServersManifest)
      .servers[0]!;
    groups.push(server.pid);
    await new Promise((res) => setTimeout(res, 1500));
    assert.ok(alive(server.pid), 'the server waits');
    assert.ok(!fs.existsSync(path.join(h.calls, 'argv')), 'no engine before the group is whole');

    fs.appendFileSync(h.nodes, '10.0.0.2\n'); // the member joins
    await waitUntil('the engine to start', () => fs.existsSync(path.join(h.calls, 'argv')));
    const argv = fs.readFileSync(path.join(h.calls, 'argv'), 'utf8').split('\0');
    assert.deepEqual(argv.slice(0, 2), ['serve', PREFILL_HEAD_P0.modelPath]);
    assert.ok(argv.includes('--distributed-executor-backend'));
    assert.ok(alive(server.pid), 'the engine is the process the pid file names');
    assert.match(fs.readFileSync(server.log, 'utf8'), /the Ray group has all 2 nodes after \d+ s; starting/);

    const stop = run(renderStopScript({ runDir: h.spec.runDir, ray: true, graceSeconds: 2 }), h.env);
    assert.equal(stop.status, 0, stop.stderr);
    assert.ok(!alive(server.pid));
  });

  it('past the timeout the server exits, naming in its log exactly the members that did not join', async () => {
    const members = [
      { name: 'p1', address: '10.0.0.2' },
      { name: 'p2', address: '10.0.0.3' },
    ];
    const h = await headSpec('missing', members, 2);
    const r = run(renderLaunchScript(h.spec), h.env);
    assert.equal(r.status, 0, r.stderr);
    fs.appendFileSync(h.nodes, '10.0.0.3\n'); // p2 joined, p1 never does
    const server = (JSON.parse(fs.readFileSync(manifestFile(h.spec.runDir), 'utf8')) as ServersManifest)
      .servers[0]!;
    groups.push(server.pid);
    await waitUntil('the server to give up', () => !alive(server.pid));
    const log = fs.readFileSync(server.log, 'utf8');
    assert.match(
      log,
      /ERROR: run_server on p0: the Ray group of this prefill instance has 2 of 3 nodes after 2 s; not joined: p1 \(10\.0\.0\.2\);/,
    );
    assert.doesNotMatch(log, /p2 \(/);
    assert.ok(!fs.existsSync(path.join(h.calls, 'argv')), 'the engine never started');
  });

  it('a member that cannot join fails its own step, naming itself, the head and the last Ray error', () => {
    const ray = path.join(dir, 'refused');
    fs.mkdirSync(ray);
    fs.writeFileSync(path.join(ray, 'refuse'), '');
    const spec: EngineLaunchSpec = {
      ...PREFILL_WORKER_P1,
      multiNode: { ...PREFILL_WORKER_P1.multiNode!, joinTimeoutSeconds: 1 },
      logDir: path.join(dir, 'refused', 'log'),
      runDir: path.join(dir, 'refused', 'run'),
    };
    const r = run(renderLaunchScript({ ...spec, host: { ...spec.host, address: '127.0.0.1' } }), {
      ...env,
      FAKE_RAY: ray,
    });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /^run_server on p1: could not join the Ray head at 10\.0\.0\.1:6379 within 1 s \(last: ConnectionError: Unable to connect to GCS at 10\.0\.0\.1:6379\.\); see .*ray\.log$/m,
    );
    assert.ok(!fs.existsSync(manifestFile(spec.runDir)), 'no manifest: the step failed');
  });
});
