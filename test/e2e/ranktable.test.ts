import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { hostname } from 'node:os';
import type { temporal } from '@temporalio/proto';
import { deviceTableText, setDeviceTable } from '../../sim';
import { retryFailedUpdate } from '../../src/workflows/cluster/messages';
import type { DeployHandle } from '../helpers/deploy';
import {
  completedActivities,
  describeFailures,
  fileStamp,
  jsonChecksums,
  onHost,
  settled,
  terminateQuietly,
  waitForStatus,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';
import { waitFor } from '../helpers/waitFor';

/**
 * The ranktable phase on a simulated sim-2P1D (instance 30: p0+c0, p1, d0, d1 with 2 NPU devices
 * each) against the real Temporal server, run by `deploy worker` processes: what lands on the
 * hosts, a device without IP refused before anything is written, and a worker killed in the
 * middle of the distribution.
 */
const INSTANCE = 30;
const EXECUTOR = hostname();

interface GlobalRanktable {
  server_group_list: {
    group_id: string;
    server_count: number;
    server_list: { server_ip: string; device: { device_id: string; device_ip: string; rank_id: string }[] }[];
  }[];
}

/** Activity inputs in a history: activity type and the host (target.name) each was scheduled for. */
function scheduledActivities(history: temporal.api.history.v1.IHistory): { type: string; host: string }[] {
  return (history.events ?? []).flatMap((e) => {
    const s = e.activityTaskScheduledEventAttributes;
    if (!s) return [];
    const payload = s.input?.payloads?.[0]?.data;
    const input = payload
      ? (JSON.parse(Buffer.from(payload).toString('utf8')) as { target?: { name?: string } })
      : {};
    return [{ type: s.activityType?.name ?? '', host: input.target?.name ?? '' }];
  });
}

/** Started → completed of each completed writeRanktables (its last attempt), in ms. */
function writeDurations(history: temporal.api.history.v1.IHistory): number[] {
  const ms = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
    Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
  const types = new Map<string, string>();
  const started = new Map<string, number>();
  const out: number[] = [];
  for (const e of history.events ?? []) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) types.set(String(e.eventId), s.activityType?.name ?? '');
    if (e.activityTaskStartedEventAttributes) {
      started.set(String(e.activityTaskStartedEventAttributes.scheduledEventId), ms(e.eventTime));
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c && types.get(String(c.scheduledEventId)) === 'writeRanktables') {
      out.push(Math.round(ms(e.eventTime) - started.get(String(c.scheduledEventId))!));
    }
  }
  return out;
}

describe('ranktable phase on the simulated sim-2P1D', { timeout: 240_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { workers: 'process', executor: EXECUTOR, tuning: 'e2e' });
  /** Checksums after the first, undisturbed run: what every later run must reproduce. */
  let expected: Map<string, Map<string, string>>;

  const root = () => sim.plan.settings.ranktable_save_path;
  const engineHosts = () => sim.plan.hosts.filter((h) => h.role !== 'proxy');
  const wipeRanktables = () =>
    Promise.all(engineHosts().map((h) => onHost(sim.cluster.ctx, h.address, `rm -rf '${root()}'/*`)));
  const checksums = async () =>
    new Map(
      await Promise.all(
        engineHosts().map(
          async (h) => [h.name, await jsonChecksums(sim.cluster.ctx, h.address, root())] as const,
        ),
      ),
    );

  it('puts the ranktables on every P/D host: one global set, byte-identical everywhere', async () => {
    const plan = sim.plan;
    const handle = await sim.deploy(['preflight', 'run_docker', 'ranktable']);
    const status = await waitForStatus(handle, 'the ranktable phase', settled, 120_000);
    assert.equal(status.stage, 'ready', describeFailures(status.failures));
    assert.equal(status.table.c0?.ranktable?.state, 'skipped', 'the proxy gets no ranktable');

    expected = await checksums();
    const globalSet = (files: Map<string, string>) =>
      new Map([...files].filter(([p]) => p.startsWith('global/')));
    const reference = globalSet(expected.get('p0')!);
    const ip = (name: string) => plan.hosts.find((h) => h.name === name)!.address;
    // What docs/ranktable.md's distribution map lists for 2P1D with devices 0,1.
    assert.deepEqual(
      [...reference.keys()].sort(),
      [
        `global/collect_files_d/local_ranktable_${ip('d0')}_01.json`,
        `global/collect_files_d/local_ranktable_${ip('d1')}_01.json`,
        'global/collect_files_d/local_ranktable_merge.json',
        `global/collect_files_p/api/local_ranktable_${ip('p0')}_host.json`,
        `global/collect_files_p/api/local_ranktable_${ip('p1')}_host.json`,
        `global/collect_files_p/local_ranktable_${ip('p0')}_01.json`,
        `global/collect_files_p/local_ranktable_${ip('p1')}_01.json`,
        'global/global_ranktable_merge.json',
      ].sort(),
    );
    for (const h of engineHosts()) {
      const files = expected.get(h.name)!;
      assert.deepEqual(globalSet(files), reference, `${h.name} holds the same global set, byte for byte`);
      const local =
        h.role === 'prefill'
          ? [
              `prefill_config/local_ranktable_${h.address}_01.json`,
              `prefill_config/local_ranktable_${h.address}_host.json`,
            ]
          : [`decode_config/local_ranktable_${h.address}_01.json`];
      assert.deepEqual(
        [...files.keys()].filter((p) => !p.startsWith('global/')).sort(),
        local.sort(),
        `${h.name}'s own folder`,
      );
      // A host's own local file is the copy the global set collects from it.
      const own = local[0]!.replace(/^\w+_config\//, '');
      const collected = `global/collect_files_${h.role === 'prefill' ? 'p' : 'd'}/${own}`;
      assert.equal(files.get(local[0]!), reference.get(collected), `${h.name}: ${local[0]} = ${collected}`);
    }

    // The global file: prefill groups in kv_rank order, then decode, with the device IPs the
    // hosts' hccn_tool reports.
    const text = await onHost(
      sim.cluster.ctx,
      ip('d1'),
      `cat '${root()}/global/global_ranktable_merge.json'`,
    );
    const global = JSON.parse(text) as GlobalRanktable;
    const deviceIp = async (address: string, device: number) =>
      /ipaddr:(\S+)/.exec(await onHost(sim.cluster.ctx, address, `hccn_tool -i ${device} -ip -g`))![1];
    const groups = [...plan.prefill.map((p) => p.hosts), ...plan.decode.map((d) => d.hosts)];
    assert.deepEqual(
      global.server_group_list.map((g) => g.group_id),
      groups.map((_, i) => String(i)),
    );
    assert.deepEqual(
      global.server_group_list.map((g) => g.server_list.map((s) => s.server_ip)),
      groups.map((hosts) => hosts.map(ip)),
      'groups: p0, p1, then decode d0+d1',
    );
    for (const [g, hosts] of groups.entries()) {
      const group = global.server_group_list[g]!;
      assert.equal(group.server_count, hosts.length);
      let rank = 0;
      for (const [s, name] of hosts.entries()) {
        const server = group.server_list[s]!;
        const devices = plan.hosts.find((h) => h.name === name)!.devices;
        assert.deepEqual(
          server.device.map((d) => d.device_id),
          devices.map(String),
        );
        for (const [i, d] of server.device.entries()) {
          assert.equal(d.device_ip, await deviceIp(ip(name), devices[i]!), `${name} device ${devices[i]}`);
          assert.equal(d.rank_id, String(rank++), `${name} device ${devices[i]} rank_id`);
        }
      }
    }
    await terminateQuietly(handle);
  });

  it('refuses a device without IP, naming host and device, distributes nothing; retry after the fix', async (t) => {
    const plan = sim.plan;
    let handle: DeployHandle | undefined;
    const d1 = plan.hosts.find((h) => h.name === 'd1')!;
    const octet = d1.address.split('.')[3];
    const restoreDevices = () =>
      setDeviceTable(
        d1.address,
        deviceTableText([0, 1].map((id) => ({ id, ip: `192.168.${octet}.${100 + id}` }))),
        sim.cluster.ctx,
      );
    await wipeRanktables();
    await setDeviceTable(
      d1.address,
      deviceTableText([
        { id: 0, ip: `192.168.${octet}.100` },
        { id: 1, ip: null },
      ]),
      sim.cluster.ctx,
    );
    try {
      handle = await sim.deploy(['ranktable']);
      const status = await waitForStatus(handle, 'the refusal', settled, 60_000);
      assert.equal(status.stage, 'waiting-for-operator');
      assert.equal(status.currentPhase, 'ranktable');
      assert.equal(status.failures.length, 1, describeFailures(status.failures));
      const f = status.failures[0]!;
      t.diagnostic(`${f.host} ${f.type}: ${f.message}`);
      assert.equal(f.host, 'd1');
      assert.equal(f.type, 'RanktableError');
      assert.equal(f.nonRetryable, true);
      assert.match(f.message, /d1/);
      assert.match(f.message, new RegExp(d1.address.replace(/\./g, '\\.')));
      assert.match(f.message, /device 1\b/);
      assert.match(f.message, /ip address is not configured/, 'quotes hccn_tool');
      for (const [host, files] of await checksums()) {
        assert.deepEqual([...files.keys()], [], `nothing written on ${host}`);
      }
      const history = await handle.fetchHistory();
      assert.equal(
        scheduledActivities(history).filter((a) => a.type === 'writeRanktables').length,
        0,
        'no write was even scheduled',
      );

      // The operator configures the device and retries: d1 reads its devices again, then the
      // whole set is written — the same bytes as the first test's.
      await restoreDevices();
      const retry = await handle.executeUpdate(retryFailedUpdate);
      assert.deepEqual(retry, { phase: 'ranktable', ok: true, failures: [] });
      assert.equal((await waitForStatus(handle, 'ready', settled, 60_000)).stage, 'ready');
      assert.deepEqual(await checksums(), expected);
      const reads = scheduledActivities(await handle.fetchHistory()).filter(
        (a) => a.type === 'readDeviceIps',
      );
      assert.deepEqual(
        reads.map((a) => a.host),
        ['p0', 'p1', 'd0', 'd1', 'd1'],
        'only the blamed host read again',
      );
    } finally {
      await terminateQuietly(handle);
      await restoreDevices();
    }
  });

  it('a worker killed during the distribution: the next one finishes without changing a byte', async (t) => {
    const plan = sim.plan;
    await wipeRanktables();
    const handle = await sim.deploy(['ranktable'], { parallelism: 1 });
    const writes = engineHosts().length;
    const doneBeforeKill = await waitFor(
      async () => {
        const n = completedActivities(await handle.fetchHistory()).filter(
          (t) => t === 'writeRanktables',
        ).length;
        return n >= 1 ? n : undefined;
      },
      { timeout: 60_000, interval: 50, what: 'a first writeRanktables to complete' },
    );
    await sim.worker.kill();
    assert.ok(doneBeforeKill < writes, `killed after ${doneBeforeKill} of ${writes} hosts were written`);
    const killedAt = completedActivities(await handle.fetchHistory()).filter(
      (a) => a === 'writeRanktables',
    ).length;
    assert.ok(killedAt < writes, 'the worker died with hosts still to write');
    t.diagnostic(`worker killed after ${killedAt} of ${writes} hosts were written`);

    const first = `${root()}/global/global_ranktable_merge.json`;
    const firstStamp = await fileStamp(sim.cluster.ctx, plan.hosts[0]!.address, first);
    await sim.startWorker();
    const status = await waitForStatus(handle, 'the resumed phase', settled, 90_000);
    assert.equal(status.stage, 'ready', describeFailures(status.failures));

    assert.deepEqual(await checksums(), expected, 'every host holds exactly the bytes of the first run');
    assert.equal(
      await fileStamp(sim.cluster.ctx, plan.hosts[0]!.address, first),
      firstStamp,
      'the first host was not written again',
    );
    const history = await handle.fetchHistory();
    t.diagnostic(`writeRanktables attempts took ${writeDurations(history).join(', ')} ms`);
    const scheduled = scheduledActivities(history);
    const writesOf = (host: string) =>
      scheduled.filter((a) => a.type === 'writeRanktables' && a.host === host).length;
    assert.equal(writesOf(plan.hosts[0]!.name), 1, 'the finished host step was not redone');
    for (const h of engineHosts())
      assert.equal(writesOf(h.name), 1, `${h.name}: one scheduled write (retries are attempts)`);
    assert.equal(
      scheduled.filter((a) => a.type === 'readDeviceIps').length,
      engineHosts().length,
      'the devices were read once: the resumed run distributed the kept set',
    );
    await terminateQuietly(handle);
  });
});
