import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import {
  buildRanktables,
  localRanktable,
  mergeAll,
  mergeLocal,
  RanktableError,
  type GlobalRanktable,
  type MergedLocalRanktable,
} from '../../src/plan/ranktable';
import {
  inputFor,
  LAYOUT_2P1D,
  LAYOUT_4P1D,
  LAYOUT_MULTI_HOST_PREFILL,
  SIXTEEN_DEVICES,
} from './ranktableLayouts';

const deviceIps = (octet: number) =>
  Object.fromEntries(SIXTEEN_DEVICES.map((d) => [d, `192.168.${octet}.${10 + d}`]));

function fileOf(layout: typeof LAYOUT_2P1D, host: string, path: string): string {
  const file = buildRanktables(inputFor(layout)).files.find((f) => f.host === host && f.path === path);
  assert.ok(file, `${host} does not receive ${path}`);
  return file.content;
}

const rankIds = (t: { server_list: { device?: { rank_id: string }[] }[] }) =>
  t.server_list.flatMap((s) => (s.device ?? []).map((d) => d.rank_id));
const zeroTo = (n: number) => Array.from({ length: n }, (_, i) => String(i));

describe('localRanktable', () => {
  const { local, apiServer } = localRanktable({
    address: '10.0.0.1',
    devices: SIXTEEN_DEVICES,
    deviceIps: deviceIps(1),
  });

  it('names files after the inventory address and the concatenated devices', () => {
    assert.equal(local.fileName, 'local_ranktable_10.0.0.1_0123456789101112131415.json');
    assert.equal(apiServer.fileName, 'local_ranktable_10.0.0.1_host.json');
  });

  it('writes ids and server_count as strings, rank ids in device order', () => {
    assert.equal(local.ranktable.server_count, '1');
    assert.equal(local.ranktable.group_id, '0');
    assert.deepEqual(local.ranktable.server_list[0]?.device?.[3], {
      device_id: '3',
      device_ip: '192.168.1.13',
      rank_id: '3',
    });
    assert.deepEqual(rankIds(local.ranktable), zeroTo(16));
  });

  it('gives the API-server file the same shape without devices', () => {
    assert.deepEqual(apiServer.ranktable.server_list, [{ server_id: '10.0.0.1', server_ip: '10.0.0.1' }]);
    assert.equal(apiServer.ranktable.server_count, '1');
  });

  it('refuses a device without IP', () => {
    assert.throws(
      () => localRanktable({ address: '10.0.0.1', devices: [0, 1], deviceIps: { 0: '192.168.1.10' } }),
      (err: Error) =>
        err instanceof RanktableError && /host 10\.0\.0\.1 device 1: no device IP/.test(err.message),
    );
  });
});

describe('mergeLocal and mergeAll', () => {
  const a = localRanktable({ address: '10.0.0.3', devices: SIXTEEN_DEVICES, deviceIps: deviceIps(3) }).local;
  const b = localRanktable({ address: '10.0.0.4', devices: SIXTEEN_DEVICES, deviceIps: deviceIps(4) }).local;

  it('merge-local continues rank ids across hosts and counts servers as an integer', () => {
    const merged = mergeLocal([a.ranktable, b.ranktable]);
    assert.equal(merged.fileName, 'local_ranktable_merge.json');
    assert.equal(merged.ranktable.server_count, 2);
    assert.equal(merged.ranktable.group_id, '0');
    assert.deepEqual(rankIds(merged.ranktable), zeroTo(32));
    assert.deepEqual(
      merged.ranktable.server_list.map((s) => s.server_ip),
      ['10.0.0.3', '10.0.0.4'],
    );
  });

  it('merge-local needs two hosts', () => {
    assert.throws(() => mergeLocal([a.ranktable]), RanktableError);
  });

  it('merge-all refuses an instance whose rank ids are not 0…N−1', () => {
    const gap = structuredClone(a.ranktable);
    gap.server_list[0]!.device![5]!.rank_id = '6';
    assert.throws(
      () => mergeAll({ prefill: [gap], decode: [b.ranktable] }),
      (err: Error) =>
        /prefill instance 0: host 10\.0\.0\.3 device 5 has rank_id "6", expected "5"/.test(err.message),
    );
  });

  it('merge-all refuses the API-server file as an instance', () => {
    const api = localRanktable({
      address: '10.0.0.1',
      devices: [0],
      deviceIps: { 0: '192.168.1.10' },
    }).apiServer;
    assert.throws(() => mergeAll({ prefill: [api.ranktable], decode: [b.ranktable] }), /has no devices/);
  });
});

describe('buildRanktables key facts', () => {
  it('2P1D: prefill groups in kv_rank order, then the decode instance; group ids strings, counts integers', () => {
    const global = JSON.parse(
      fileOf(LAYOUT_2P1D, 'd1', 'global/global_ranktable_merge.json'),
    ) as GlobalRanktable;
    assert.deepEqual(
      global.server_group_list.map((g) => [
        g.group_id,
        g.server_count,
        g.server_list.map((s) => s.server_ip),
      ]),
      [
        ['0', 1, ['10.0.0.1']],
        ['1', 1, ['10.0.0.2']],
        ['2', 2, ['10.0.0.3', '10.0.0.4']],
      ],
    );
    assert.deepEqual(rankIds(global.server_group_list[2]!), zeroTo(32));
    assert.ok(
      !global.server_group_list.some((g) => g.server_list.some((s) => !s.device)),
      'no API-server entry',
    );
  });

  it('2P1D: decode hosts find the merged decode file where vllm_run_for_d.sh looks', () => {
    const merged = JSON.parse(
      fileOf(LAYOUT_2P1D, 'd1', 'global/collect_files_d/local_ranktable_merge.json'),
    ) as MergedLocalRanktable;
    assert.equal(merged.server_count, 2);
    assert.deepEqual(rankIds(merged), zeroTo(32));
  });

  it('4P1D: five groups, decode spans four hosts with ranks 0…63', () => {
    const global = JSON.parse(
      fileOf(LAYOUT_4P1D, 'p3', 'global/global_ranktable_merge.json'),
    ) as GlobalRanktable;
    assert.deepEqual(
      global.server_group_list.map((g) => g.group_id),
      ['0', '1', '2', '3', '4'],
    );
    assert.equal(global.server_group_list[4]!.server_count, 4);
    assert.deepEqual(rankIds(global.server_group_list[4]!), zeroTo(64));
  });

  it('a multi-host prefill instance is one group, merged under its master address', () => {
    const path = 'global/collect_files_p/10.0.0.1/local_ranktable_merge.json';
    const merged = JSON.parse(fileOf(LAYOUT_MULTI_HOST_PREFILL, 'p1', path)) as MergedLocalRanktable;
    assert.deepEqual(rankIds(merged), zeroTo(32));
    const global = JSON.parse(
      fileOf(LAYOUT_MULTI_HOST_PREFILL, 'p1', 'global/global_ranktable_merge.json'),
    ) as GlobalRanktable;
    assert.deepEqual(global.server_group_list[0]!.server_list, merged.server_list);
    assert.deepEqual(
      global.server_group_list.map((g) => g.server_count),
      [2, 1, 1],
    );
  });

  it('prefill instances are ordered by kv_rank, whatever the layout order', () => {
    const reversed = { ...LAYOUT_2P1D, prefill: [...LAYOUT_2P1D.prefill].reverse() };
    assert.equal(
      fileOf(reversed, 'p0', 'global/global_ranktable_merge.json'),
      fileOf(LAYOUT_2P1D, 'p0', 'global/global_ranktable_merge.json'),
    );
  });

  it('summarises the groups and what travels', () => {
    const { files, summary } = buildRanktables(inputFor(LAYOUT_MULTI_HOST_PREFILL));
    assert.deepEqual(summary.groups, [
      { groupId: '0', role: 'prefill', kvRank: 0, hosts: ['p0', 'p1'], devices: 32 },
      { groupId: '1', role: 'prefill', kvRank: 1, hosts: ['p2'], devices: 16 },
      { groupId: '2', role: 'decode', hosts: ['d0'], devices: 16 },
    ]);
    assert.deepEqual(summary.receivers, ['p0', 'p1', 'p2', 'd0']);
    assert.equal(summary.fileCount, files.length);
  });
});
