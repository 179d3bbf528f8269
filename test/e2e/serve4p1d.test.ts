import { before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import {
  assertPrefillThenDecode,
  complete,
  describeFailures,
  liveServers,
  proxyUrl,
  settled,
  waitForStatus,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';
import type { TestCluster } from '../helpers/simCluster';

/**
 * sim-4P1D end to end (instance 33): eight machines with two NPU devices each — four prefill
 * instances and a decode instance of four hosts (eight DP ranks) — from `deploy start` to
 * completions through the proxy, with the machine's memory and CPU recorded while it runs.
 */
const INSTANCE = 33;

const memAvailableMiB = () =>
  Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))![1]) / 1024;

/** Machine-wide CPU jiffies (busy, total) from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const fields = fs
    .readFileSync('/proc/stat', 'utf8')
    .split('\n')[0]!
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const idle = fields[3]! + fields[4]!;
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Proportional set size of every process of the simulated hosts (each host's init and all its
 * descendants: sshd, podman's conmon, containers, engines, nginx), in MiB, and how many there are.
 */
function simHostsPss(cluster: TestCluster): { mib: number; processes: number } {
  const hostsDir = `${cluster.ctx.dir}/hosts`;
  const children = new Map<number, number[]>();
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(pid)]);
    } catch {
      // gone meanwhile
    }
  }
  const todo: number[] = [];
  for (const name of fs.readdirSync(hostsDir)) {
    try {
      todo.push((JSON.parse(fs.readFileSync(`${hostsDir}/${name}/init.pid`, 'utf8')) as { pid: number }).pid);
    } catch {
      // host not running
    }
  }
  let kib = 0;
  let processes = 0;
  for (let pid = todo.pop(); pid !== undefined; pid = todo.pop()) {
    todo.push(...(children.get(pid) ?? []));
    try {
      kib += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]);
      processes++;
    } catch {
      // gone meanwhile
    }
  }
  return { mib: kib / 1024, processes };
}

describe('serving sim-4P1D', { timeout: 240_000 }, () => {
  let memBefore: number;
  // Ahead of the fixture's before(): the machine's memory before the cluster is up.
  before(() => {
    memBefore = memAvailableMiB();
  });
  // `deploy worker` with its defaults: the executor `deploy start` names by default.
  const sim = useSimDeploy('sim-4P1D', INSTANCE, { workers: 'process', workerArgs: [] });

  it('deploy start → ready → streamed and plain completions through every prefill, then decode', async (t) => {
    const { cluster, plan } = sim;
    assert.equal(plan.prefill.length, 4);
    assert.equal(plan.decode[0]!.hosts.length, 4);
    assert.equal(new Set(plan.hosts.map((h) => h.address)).size, 8, 'eight machines');

    const cpu0 = cpuTimes();
    const started = Date.now();
    const start = await sim.cli(['start', '--inventory', cluster.inventoryFile, '--detach']);
    assert.equal(start.code, 0, start.stderr);
    const handle = sim.adopt();
    let lowest = memAvailableMiB();
    const status = await waitForStatus(
      handle,
      'the deploy',
      (s) => {
        lowest = Math.min(lowest, memAvailableMiB());
        return settled(s);
      },
      180_000,
    );
    const took = Date.now() - started;
    const cpu1 = cpuTimes();
    assert.equal(status.stage, 'ready', describeFailures(status.failures));
    const busy = ((cpu1.busy - cpu0.busy) / (cpu1.total - cpu0.total)) * 100;
    t.diagnostic(
      `sim-4P1D: deploy start → ready in ${(took / 1000).toFixed(1)} s, machine CPU ${busy.toFixed(0)}% busy`,
    );

    // Every engine of the plan runs: 4 prefill API servers and 8 decode DP ranks.
    let servers = 0;
    for (const h of plan.hosts.filter((x) => x.role !== 'proxy')) {
      const live = await liveServers(cluster.ctx, plan, h.name);
      assert.equal(live.length, h.apiServers.length, `${h.name} servers`);
      assert.ok(
        live.every((s) => s.alive),
        `${h.name} servers alive`,
      );
      servers += live.length;
    }
    assert.equal(servers, 12);
    const memNow = memAvailableMiB();
    const pss = simHostsPss(cluster);
    t.diagnostic(
      `memory: ${servers} engines on 8 hosts; ${pss.processes} processes in the hosts with ${pss.mib.toFixed(0)} MiB PSS; machine MemAvailable ${memBefore.toFixed(0)} → ${memNow.toFixed(0)} MiB (lowest ${lowest.toFixed(0)})`,
    );
    assert.ok(pss.mib < 1024, 'the whole simulated 4P1D fits well under 1 GiB');

    // The proxy spreads requests: send enough that every prefill instance serves one.
    const model = plan.settings.served_model_name;
    const seen = { prefill: new Set<string>(), decode: new Set<string>() };
    for (let i = 0; i < 8; i++) {
      const r = await complete(
        proxyUrl(plan),
        i % 2 ? 'chat' : 'completions',
        i % 2
          ? { model, messages: [{ role: 'user', content: `q${i}` }], max_tokens: 4, stream: true }
          : { model, prompt: `q${i}`, max_tokens: 4 },
      );
      const via = assertPrefillThenDecode(plan, r);
      if (i % 2) assert.ok(r.done && r.chunks === 4, 'streamed to the end');
      seen.prefill.add(via.prefill);
      seen.decode.add(via.decode);
    }
    t.diagnostic(`served by prefill ${[...seen.prefill].join(' ')}; decode ${[...seen.decode].join(' ')}`);
    assert.ok(seen.prefill.size >= 2, 'more than one prefill instance served');
  });
});
