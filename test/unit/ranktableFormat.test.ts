import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildRanktables, toPythonJson, type RanktableLayout } from '../../src/plan/ranktable';
import {
  host,
  hccnOutput,
  inputFor,
  LAYOUT_2P1D,
  LAYOUT_4P1D,
  LAYOUT_MULTI_HOST_PREFILL,
} from './ranktableLayouts';

/**
 * The behaviour spec's §4.5 example (2P1D, two devices per host), written by Python's
 * `json.dumps(…, indent=4)` from hand-built dicts — the bytes omniinfer's tool would write.
 * Reference data, not golden output: UPDATE_GOLDEN never touches it.
 */
const EXAMPLE_DIR = path.join(__dirname, '..', 'golden', 'ranktable', 'omniinfer-example-4.5');

const EXAMPLE_LAYOUT: RanktableLayout = {
  prefill: [
    { kvRank: 0, hosts: [host('p0', '10.0.0.1', [0, 1])] },
    { kvRank: 1, hosts: [host('p1', '10.0.0.2', [0, 1])] },
  ],
  decode: [{ hosts: [host('d0', '10.0.0.3', [0, 1]), host('d1', '10.0.0.4', [0, 1])] }],
};

function exampleFiles() {
  const ipOf = (address: string, device: number) => `192.168.100.${address.split('.')[3]}${device + 1}`;
  const hosts = [...EXAMPLE_LAYOUT.prefill, ...EXAMPLE_LAYOUT.decode].flatMap((i) => i.hosts);
  const hccn = hosts.flatMap((h) =>
    h.devices.map((device) => ({ host: h.name, device, output: hccnOutput(ipOf(h.address, device)) })),
  );
  return buildRanktables({ layout: EXAMPLE_LAYOUT, hccn }).files;
}

function python3(): string | undefined {
  const r = spawnSync('python3', ['--version']);
  return r.status === 0 ? 'python3' : undefined;
}

describe('ranktable byte format', () => {
  it('the local file of §4.5 is byte-for-byte what omniinfer writes', () => {
    const file = exampleFiles().find((f) => f.host === 'p0' && f.path.startsWith('prefill_config/local_'));
    assert.equal(file?.path, 'prefill_config/local_ranktable_10.0.0.1_01.json');
    assert.equal(
      file.content,
      fs.readFileSync(path.join(EXAMPLE_DIR, 'local_ranktable_10.0.0.1_01.json'), 'utf8'),
    );
  });

  it('the global merge of §4.5 is byte-for-byte what omniinfer writes', () => {
    const file = exampleFiles().find((f) => f.path === 'global/global_ranktable_merge.json');
    assert.equal(
      file?.content,
      fs.readFileSync(path.join(EXAMPLE_DIR, 'global_ranktable_merge.json'), 'utf8'),
    );
  });

  it('escapes non-ASCII like json.dump (ensure_ascii) and adds no trailing newline', () => {
    assert.equal(
      toPythonJson({ a: 'é', b: ['x'] }),
      '{\n    "a": "\\u00e9",\n    "b": [\n        "x"\n    ]\n}',
    );
  });

  it(
    'Python re-dumping every generated file reproduces it exactly',
    { skip: !python3() && 'no python3' },
    () => {
      // One Python for every file (a process per file took minutes): each content is parsed and
      // dumped on its own, as `json.dump(json.load(f), f, indent=4)` would.
      const redump =
        'import json,sys; sys.stdout.write(json.dumps([json.dumps(json.loads(c), indent=4) for c in json.load(sys.stdin)]))';
      for (const layout of [LAYOUT_2P1D, LAYOUT_4P1D, LAYOUT_MULTI_HOST_PREFILL]) {
        const unique = [...new Map(buildRanktables(inputFor(layout)).files.map((f) => [f.path, f.content]))];
        const r = spawnSync('python3', ['-c', redump], {
          input: JSON.stringify(unique.map(([, content]) => content)),
          encoding: 'utf8',
          maxBuffer: 1 << 30,
        });
        assert.equal(r.status, 0, r.stderr);
        const redumped = JSON.parse(r.stdout) as string[];
        assert.equal(redumped.length, unique.length);
        unique.forEach(([file, content], i) => {
          assert.equal(redumped[i], content, `${file} is not what Python's json.dump writes`);
        });
      }
    },
  );
});
