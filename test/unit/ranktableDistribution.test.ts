import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { planFromFile } from '../../src/client/planFile';
import {
  buildRanktables,
  deviceIpsOf,
  ranktableDistribution,
  ranktableInputFromIps,
} from '../../src/plan/ranktable';
import { ownRanktableFiles } from '../../src/plan/ranktablePlan';
import { LAYOUT_2P1D, LAYOUT_4P1D, LAYOUT_MULTI_HOST_PREFILL, inputFor, probesFor } from './ranktableLayouts';

const LAYOUTS = { '2P1D': LAYOUT_2P1D, '4P1D': LAYOUT_4P1D, 'multi-host prefill': LAYOUT_MULTI_HOST_PREFILL };

describe('ranktables by content: the shared folder plus each host’s copies', () => {
  for (const [name, layout] of Object.entries(LAYOUTS)) {
    it(`${name}: every host's files are the shared folder and copies of it, byte for byte`, () => {
      const build = buildRanktables(inputFor(layout));
      const { shared, own } = ranktableDistribution(build);
      const sharedByPath = new Map(shared.map((f) => [f.path, f.content]));
      for (const f of build.files) {
        const content = f.path.startsWith('global/')
          ? sharedByPath.get(f.path)
          : sharedByPath.get(own[f.host]!.find((o) => o.path === f.path)!.from);
        assert.equal(content, f.content, `${f.host} ${f.path}`);
      }
      const perHost = new Map<string, number>();
      for (const f of build.files) perHost.set(f.host, (perHost.get(f.host) ?? 0) + 1);
      for (const [host, count] of perHost) assert.equal(shared.length + own[host]!.length, count, host);
    });

    it(`${name}: built from the kept device IPs, the set is the one built from hccn_tool's outputs`, () => {
      const input = inputFor(layout);
      const ips = deviceIpsOf(input);
      assert.deepEqual(buildRanktables(ranktableInputFromIps(layout, ips)), buildRanktables(input));
      assert.deepEqual(
        Object.keys(ips),
        probesFor(layout)
          .map((p) => p.host)
          .filter((h, i, all) => all.indexOf(h) === i),
      );
    });
  }

  it('the Plan names each host’s own files without building them', () => {
    for (const file of ['inventories/2P1D.yml', 'inventories/4P1D.yml', 'inventories/sim-multihost.yml']) {
      const plan = planFromFile(path.join(__dirname, '..', '..', file), {
        MODEL_PATH: '/data/models/m',
        DOCKER_IMAGE_ID: 'registry.local/omniinfer:test',
      });
      const { own } = ranktableDistribution(
        buildRanktables({ layout: plan.ranktable, hccn: probesFor(plan.ranktable) }),
      );
      for (const h of plan.hosts)
        assert.deepEqual(ownRanktableFiles(plan.ranktable, h.name), own[h.name] ?? [], `${file} ${h.name}`);
    }
  });
});
