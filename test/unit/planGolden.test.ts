import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { type Plan } from '../../src/plan';
import { planFromFile } from '../../src/client/planFile';
import type { RanktableLayout } from '../../src/plan/ranktable';
import { assertGolden } from '../helpers/golden';

const ROOT = path.join(__dirname, '..', '..');

const plan = (file: string, extra: Record<string, string> = {}) => planFromFile(path.join(ROOT, file), extra);

/** The plan as JSON with the inventory path made relative, so goldens do not depend on the checkout. */
function planJson(p: Plan): string {
  return `${JSON.stringify({ ...p, inventoryFile: path.relative(ROOT, p.inventoryFile) }, null, 2)}\n`;
}

const host = (p: Plan, name: string) => p.hosts.find((h) => h.name === name)!;
const SIXTEEN = Array.from({ length: 16 }, (_, i) => i);

describe('plan of the seed 2P1D inventory', () => {
  const p = plan('inventories/2P1D.yml');

  it('matches the golden plan', () => assertGolden('plan/2P1D.json', planJson(p)));

  it('has the port table of omniinfer-behaviour §1.3', () => {
    const rows = p.hosts.map((h) => [
      h.name,
      h.nodePort,
      h.apiPort,
      h.ports.map((x) => `${x.first}-${x.last}`),
    ]);
    assert.deepEqual(rows, [
      ['p0', 8000, 9000, ['8000-8000', '9000-9000']],
      ['p1', 8001, 9001, ['8001-8001', '9001-9001']],
      ['d0', 8100, 9100, ['8100-8100', '9100-9115']],
      // A decode slave binds only its API servers; the DP master port is d0's.
      ['d1', 8100, 9101, ['9101-9116']],
      ['c0', 7000, null, ['7000-7000']],
    ]);
    assert.deepEqual(
      host(p, 'd1').apiServers.map((a) => [a.port, a.dpRank]),
      SIXTEEN.map((i) => [9101 + i, 16 + i]),
    );
  });

  it('has the derived facts of §2.1', () => {
    const f = p.facts;
    assert.equal(f.PREFILL_API_SERVER_LIST, '127.0.0.1:9000,127.0.0.2:9001');
    assert.equal(f.DECODE_API_SERVER_LIST, '127.0.0.3:9100@15,127.0.0.4:9101@15');
    assert.equal(f.PREFILL_POD_NUM, 2);
    // The seed's DECODE_POD_NUM counted D hosts (2); it means decode instances (docs/plan.md).
    assert.equal(f.DECODE_POD_NUM, 1);
    assert.equal(f.DECODE_HOST_NUM, 2);
    assert.equal(f.DECODE_SERVER_IP_LIST, '127.0.0.3,127.0.0.4');
    assert.equal(f.DECODE_SERVER_ALL.split(',').length, 32);
    assert.equal(
      f.PREFILL_MERGE_RANKTABLE_LIST,
      'collect_files_p/local_ranktable_127.0.0.1_0123456789101112131415.json;' +
        'collect_files_p/local_ranktable_127.0.0.2_0123456789101112131415.json',
    );
    assert.equal(
      f.DECODE_RANKTABLE_LIST,
      'collect_files_d/local_ranktable_127.0.0.3_0123456789101112131415.json,' +
        'collect_files_d/local_ranktable_127.0.0.4_0123456789101112131415.json',
    );
    assert.deepEqual(f.DECODE_SERVER_OFFSET, { d0: 0, d1: 16 });
    assert.deepEqual(f.NODE_IP_LIST, { p0: '127.0.0.1', p1: '127.0.0.2' });
    assert.deepEqual(f.NNODES, { p0: 1, p1: 1 });
  });

  it('has the topology of §6.4: TP 16 prefills with kv_rank 0/1, one DP-32 decode with kv_rank 2', () => {
    assert.deepEqual(
      p.prefill.map((i) => [
        i.id,
        i.kvRank,
        i.engine.tensorParallelSize,
        i.engine.dataParallelSize,
        i.engine.kvParallelSize,
      ]),
      [
        ['prefill-0', 0, 16, 1, 3],
        ['prefill-1', 1, 16, 1, 3],
      ],
    );
    const [d] = p.decode;
    assert.deepEqual([d!.hosts, d!.masterAddress, d!.masterPort], [['d0', 'd1'], '127.0.0.3', 8100]);
    assert.deepEqual(
      [d!.engine.kvRank, d!.engine.kvParallelSize, d!.engine.tensorParallelSize, d!.engine.dataParallelSize],
      [2, 3, 1, 32],
    );
  });

  it('names containers, proxy upstreams and ranktable folders the seed way', () => {
    assert.deepEqual(
      p.hosts.map((h) => h.container.name),
      ['p0', 'p1']
        .map((n) => `you_name_omni_infer_prefill_${n}`)
        .concat(
          ['d0', 'd1'].map((n) => `you_name_omni_infer_decode_${n}`),
          'you_name_omni_infer_proxy_c0',
        ),
    );
    assert.equal(host(p, 'c0').container.env.PROXY_NODE_PORT, '7000');
    assert.deepEqual([p.proxy.address, p.proxy.listenPort], ['127.0.0.1', 7000]);
    assert.deepEqual(p.proxy.prefillUpstreams, ['127.0.0.1:9000', '127.0.0.2:9001']);
    assert.equal(p.proxy.decodeUpstreams.length, 32);
    assert.deepEqual(
      [p.proxy.decodeUpstreams[0], p.proxy.decodeUpstreams[31]],
      ['127.0.0.3:9100', '127.0.0.4:9116'],
    );
    assert.equal(p.ranktable.coordinator, 'p0');
    // The ranktable phase takes the plan's lists as its layout, no mapping needed.
    const layout: RanktableLayout = p.ranktable;
    assert.deepEqual(
      layout.decode[0]!.hosts.map((h) => h.name),
      ['d0', 'd1'],
    );
    assert.equal(p.ranktable.globalFile, '/tmp/ranktable_save_path/global/global_ranktable_merge.json');
    assert.equal(
      p.ranktable.decode[0]!.mergedFile,
      '/tmp/ranktable_save_path/global/collect_files_d/local_ranktable_merge.json',
    );
    assert.equal(
      p.ranktable.prefill[1]!.rankTableFile,
      '/tmp/ranktable_save_path/prefill_config/local_ranktable_127.0.0.2_0123456789101112131415.json',
    );
  });

  it('is deterministic and carries no secret', () => {
    assert.equal(planJson(plan('inventories/2P1D.yml')), planJson(p));
    assert.equal(p.planVersion, 1);
    assert.equal(p.cluster, '2P1D');
  });
});

describe('plan of the seed 4P1D inventory', () => {
  const p = plan('inventories/4P1D.yml');

  it('matches the golden plan', () => assertGolden('plan/4P1D.json', planJson(p)));

  it('adds p2/p3 and d2/d3 to the 2P1D numbers', () => {
    assert.deepEqual(
      p.hosts.map((h) => [h.name, h.nodePort, h.apiPort]),
      [
        ['p0', 8000, 9000],
        ['p1', 8001, 9001],
        ['p2', 8002, 9002],
        ['p3', 8003, 9003],
        ['d0', 8100, 9100],
        ['d1', 8100, 9101],
        ['d2', 8100, 9102],
        ['d3', 8100, 9103],
        ['c0', 7000, null],
      ],
    );
    assert.deepEqual(p.facts.DECODE_SERVER_OFFSET, { d0: 0, d1: 16, d2: 32, d3: 48 });
    assert.equal(p.facts.PREFILL_POD_NUM, 4);
    assert.equal(p.facts.DECODE_HOST_NUM, 4);
    assert.equal(p.facts.DECODE_SERVER_ALL.split(',').length, 64);
    assert.equal(
      p.facts.DECODE_API_SERVER_LIST,
      '127.0.0.5:9100@15,127.0.0.6:9101@15,127.0.0.7:9102@15,127.0.0.8:9103@15',
    );
    assert.deepEqual(
      p.prefill.map((i) => i.engine.kvParallelSize),
      [5, 5, 5, 5],
    );
    assert.deepEqual([p.decode[0]!.engine.kvRank, p.decode[0]!.engine.dataParallelSize], [4, 64]);
    assert.deepEqual(host(p, 'd3').apiServers.at(-1), { port: 9118, dpRank: 63 });
  });
});

describe('plan of a multi-host prefill instance', () => {
  const p = plan('test/fixtures/inventories/multinode-prefill.yml');

  it('matches the golden plan', () => assertGolden('plan/multinode-prefill.json', planJson(p)));

  it('groups p0 and p1 into one instance with TP over both hosts', () => {
    const [first, second] = p.prefill;
    assert.deepEqual(
      [first!.hosts, first!.multiNode, first!.nnodes, first!.engine.tensorParallelSize],
      [['p0', 'p1'], true, 2, 32],
    );
    assert.deepEqual(
      [second!.hosts, second!.multiNode, second!.engine.tensorParallelSize],
      [['p2'], false, 16],
    );
    assert.deepEqual(p.facts.NODE_IP_LIST, {
      p0: '10.0.0.1,10.0.0.2',
      p1: '10.0.0.1,10.0.0.2',
      p2: '10.0.0.3',
    });
    assert.deepEqual(p.facts.NNODES, { p0: 2, p1: 2, p2: 1 });
    assert.equal(
      p.facts.PREFILL_MERGE_RANKTABLE_LIST,
      'collect_files_p/local_ranktable_10.0.0.1_0123456789101112131415.json,' +
        'collect_files_p/local_ranktable_10.0.0.2_0123456789101112131415.json;' +
        'collect_files_p/local_ranktable_10.0.0.3_0123456789101112131415.json',
    );
    assert.equal(
      p.ranktable.prefill[0]!.mergedFile,
      '/tmp/ranktable_save_path/global/collect_files_p/10.0.0.1/local_ranktable_merge.json',
    );
    assert.equal(p.ranktable.decode[0]!.mergedFile, null);
  });

  it('runs the API server on the master only; the slave is a Ray worker', () => {
    assert.deepEqual(host(p, 'p0').apiServers, [{ port: 9000, dpRank: 0 }]);
    assert.deepEqual(
      [host(p, 'p1').isMaster, host(p, 'p1').apiServers, host(p, 'p1').ports],
      [false, [], []],
    );
    assert.equal(host(p, 'p1').masterAddress, '10.0.0.1');
    assert.deepEqual(p.proxy.prefillUpstreams, ['10.0.0.1:9000', '10.0.0.3:9001']);
    assert.equal(p.decode[0]!.engine.kvRank, 2);
  });
});

describe('legacy decode convention', () => {
  it('role M/S gives the same plan as host_ip', () => {
    const byRole = plan('test/fixtures/inventories/2P1D-role.yml');
    const byHostIp = plan('inventories/2P1D.yml');
    assert.equal(planJson({ ...byRole, inventoryFile: byHostIp.inventoryFile }), planJson(byHostIp));
    assertGolden('plan/2P1D.json', planJson({ ...byRole, inventoryFile: byHostIp.inventoryFile }));
  });

  it('puts the master first even when it is listed second, in both conventions', () => {
    const byRole = plan('test/fixtures/inventories/master-second-role.yml');
    const byHostIp = plan('test/fixtures/inventories/master-second-host-ip.yml');
    assert.equal(planJson({ ...byRole, inventoryFile: byHostIp.inventoryFile }), planJson(byHostIp));
    assert.deepEqual(byRole.decode[0]!.hosts, ['d1', 'd0']);
    // DP rank 0 is on the master, where the DP rendezvous listens (the seed counted in inventory order).
    assert.deepEqual(byRole.facts.DECODE_SERVER_OFFSET, { d1: 0, d0: 4 });
    assert.equal(byRole.facts.DECODE_SERVER_IP_LIST, '10.0.0.4,10.0.0.3');
    assert.equal(byRole.decode[0]!.masterAddress, '10.0.0.4');
  });
});
