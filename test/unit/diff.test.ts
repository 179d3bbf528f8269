import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planFromFile } from '../../src/client/planFile';
import { diffPlans, renderDiff } from '../../src/workflows/cluster/diff';
import { assertGolden } from '../helpers/golden';
import { withThirdPrefill } from '../helpers/layouts';

/**
 * `deploy diff`: what applying an inventory to a running cluster changes, per unit and host, for
 * the changes the rollout e2e makes on sim-2P1D (golden files in test/golden/diff).
 */
const SIM = path.join(__dirname, '..', '..', 'inventories', 'sim-2P1D.yml');
const plan = (extra: Record<string, string> = {}, file = SIM) => planFromFile(file, extra);

describe('deploy diff', () => {
  const base = plan();

  it('nothing changed: no changes', () => {
    const d = diffPlans(base, plan());
    assert.equal(d.changed, false);
    assert.equal(renderDiff(d), 'sim-2p1d: no changes');
  });

  it('a prefill engine argument: both prefill instances restart, decode and the proxy stay', () => {
    const args = base.settings.prefill_extra_args.join(' ').replace('--max-num-seqs 16', '--max-num-seqs 8');
    const d = diffPlans(base, plan({ prefill_extra_args: args }));
    assert.deepEqual(
      d.units.filter((u) => u.change !== 'none').map((u) => u.unit),
      ['prefill-0', 'prefill-1'],
    );
    assertGolden('diff/prefill-args.txt', `${renderDiff(d)}\n`);
  });

  it('an image: every engine container replaced (the proxy has its own image)', () => {
    const d = diffPlans(base, plan({ DOCKER_IMAGE_ID: 'localhost/omni-sim-engine:next' }));
    assert.deepEqual(
      d.units.filter((u) => u.change !== 'none').map((u) => u.unit),
      ['prefill-0', 'prefill-1', 'decode-0'],
    );
    assert.equal(d.proxyReload, false);
    assertGolden('diff/image.txt', `${renderDiff(d)}\n`);
  });

  it('a third prefill instance: added, the global ranktable re-merged, every engine restarted, the proxy reloaded', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-diff-'));
    try {
      const file = path.join(dir, 'sim-2P1D.yml');
      fs.writeFileSync(file, withThirdPrefill(fs.readFileSync(SIM, 'utf8'), '10.231.0'));
      const three = plan({}, file);
      const added = diffPlans(base, three);
      assert.equal(added.units.find((u) => u.unit === 'prefill-2')?.change, 'add');
      assert.equal(added.globalRanktable, true);
      assert.equal(added.proxyReload, true);
      assertGolden('diff/add-prefill.txt', `${renderDiff(added)}\n`);
      const removed = diffPlans(three, base);
      assert.equal(removed.units.find((u) => u.unit === 'prefill-2')?.change, 'remove');
      assertGolden('diff/remove-prefill.txt', `${renderDiff(removed)}\n`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
