/**
 * Plans a generated 512-host inventory (128 two-host prefill instances, one decode instance over
 * 255 hosts, one proxy), the seed's templates on every host, and prints how long it takes.
 * Target: well under one second.  Run: npm run bench:plan
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPlan } from '../src/plan';
import { loadInventory } from '../src/inventory';
import { bigInventory } from '../test/helpers/bigInventory';

const LAYOUT = { prefillInstances: 128, hostsPerPrefill: 2, decodeHosts: 255, devices: 16 };

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-deploy-bench-'));
const file = path.join(dir, 'bench-512.yml');
fs.writeFileSync(file, bigInventory(LAYOUT));
try {
  const runs: number[] = [];
  let hosts = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const plan = buildPlan(loadInventory(file));
    runs.push(performance.now() - t0);
    hosts = plan.hosts.length;
  }
  const [first, ...warm] = runs;
  warm.sort((a, b) => a - b);
  console.log(
    `planned ${hosts} hosts: first run ${first!.toFixed(0)} ms (cold: template compilation, JIT), ` +
      `then median ${warm[Math.floor(warm.length / 2)]!.toFixed(0)} ms, best ${warm[0]!.toFixed(0)} ms`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
