import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildRanktables, type RanktableFile, type RanktableLayout } from '../../src/plan/ranktable';
import { assertGolden } from '../helpers/golden';
import { inputFor, LAYOUT_2P1D, LAYOUT_4P1D, LAYOUT_MULTI_HOST_PREFILL } from './ranktableLayouts';

const LAYOUTS: Record<string, RanktableLayout> = {
  '2P1D': LAYOUT_2P1D,
  '4P1D': LAYOUT_4P1D,
  'multi-host-prefill': LAYOUT_MULTI_HOST_PREFILL,
};

/** One content per path: a path means the same bytes on every host that receives it. */
function contentByPath(files: RanktableFile[]): Map<string, string> {
  const byPath = new Map<string, string>();
  for (const f of files) {
    const known = byPath.get(f.path);
    assert.ok(known === undefined || known === f.content, `${f.path} differs between hosts`);
    byPath.set(f.path, f.content);
  }
  return byPath;
}

function distribution(files: RanktableFile[]): string {
  return files.map((f) => `${f.host.padEnd(4)}${f.path}\n`).join('');
}

describe('ranktable golden files', () => {
  for (const [name, layout] of Object.entries(LAYOUTS)) {
    it(`${name}: every file and the distribution map match the golden copies`, () => {
      const { files } = buildRanktables(inputFor(layout));
      for (const [path, content] of contentByPath(files)) assertGolden(`ranktable/${name}/${path}`, content);
      assertGolden(`ranktable/${name}/distribution.txt`, distribution(files));
    });
  }
});
