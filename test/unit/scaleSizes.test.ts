import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadInventory } from '../../src/inventory';
import { buildPlan, type Plan } from '../../src/plan';
import { compactPlan, expandPlan } from '../../src/plan/compact';
import {
  bareLayout,
  buildRanktables,
  deviceIpsOf,
  ranktableDistribution,
  type HccnProbe,
} from '../../src/plan/ranktable';
import { ownRanktableFiles } from '../../src/plan/ranktablePlan';
import { PHASES } from '../../src/shared/phases';
import { hostRef } from '../../src/workflows/common';
import { probeHosts } from '../../src/workflows/cluster/healthWatch';
import { HOST_STEPS_RUN_BUDGET, type HostStepsInput } from '../../src/workflows/cluster/hostStepsWorkflow';
import { engineLaunchInput, engineReadyInput, proxyInput } from '../../src/workflows/cluster/serverSteps';
import { ClusterState } from '../../src/workflows/cluster/state';
import {
  cleanupInput,
  containerInput,
  owner,
  planHost,
  preflightInput,
  syncCodeInput,
} from '../../src/workflows/cluster/steps';
import { DEFAULT_ACTIVITY_TUNING, DEFAULT_HEALTH } from '../../src/workflows/cluster/types';
import { bigInventory, type BigLayout } from '../helpers/bigInventory';

/**
 * The worst case the design is sized for: 512 hosts × 16 NPUs. Temporal refuses a payload over
 * 2 MB (warns at 256 KB) and a history over 50 MB / 51 200 events (warns at 10 MB / 10 240), and
 * the cluster workflow's input, every activity's input and result, and what continue-as-new
 * carries all pass through it. Each size here is measured on the real generators; the history of
 * a whole deploy at this size is measured by test/workflow/scaleHistory.test.ts.
 */
const KiB = 1024;
const MiB = 1024 * KiB;
const size = (x: unknown) => Buffer.byteLength(JSON.stringify(x));
const kib = (n: number) => `${(n / KiB).toFixed(0)} KiB`;

const LAYOUTS: Record<string, BigLayout> = {
  // bench:scale's shape: single-host prefill instances and a 4-host decode instance.
  '508 single-host prefill + 4-host decode': {
    prefillInstances: 508,
    hostsPerPrefill: 1,
    decodeHosts: 4,
    devices: 16,
  },
  // Long decode IP lists in every launch script, 4 096 decode upstreams in the proxy.
  '128 two-host prefill + 256-host decode': {
    prefillInstances: 128,
    hostsPerPrefill: 2,
    decodeHosts: 256,
    devices: 16,
  },
};

function planOf(layout: BigLayout) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-scale-sizes-'));
  try {
    const file = path.join(dir, 'big.yml');
    fs.writeFileSync(file, bigInventory(layout));
    const inventory = loadInventory(file);
    return { inventory, plan: buildPlan(inventory) };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** What hccn_tool prints on each device, with cluster-unique IPs. */
function probes(plan: Plan): HccnProbe[] {
  return plan.hosts
    .filter((h) => h.role !== 'proxy')
    .flatMap((h, i) =>
      h.devices.map((device) => ({
        host: h.name,
        device,
        output: `ipaddr:172.${16 + (i >> 8)}.${i & 255}.${device + 1}\nnetmask:255.255.255.0\n`,
      })),
    );
}

for (const [name, layout] of Object.entries(LAYOUTS)) {
  describe(`512 hosts × 16 devices (${name}): no payload near 2 MB`, () => {
    const { inventory, plan } = planOf(layout);
    const compact = compactPlan(inventory);
    const engineHosts = plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);
    const largest = (inputs: unknown[]) => Math.max(...inputs.map(size));

    it('the workflow input is the compact Plan: a tenth of the full one, which it expands to', (t) => {
      assert.equal(plan.hosts.length, 513);
      t.diagnostic(`full Plan ${kib(size(plan))}, compact Plan ${kib(size(compact))}`);
      assert.ok(size(plan) > 1.5 * MiB, 'the full Plan alone is near the 2 MB limit: why it is not sent');
      assert.ok(size(compact) < 256 * KiB, `compact Plan ${kib(size(compact))}`);
      assert.deepEqual(expandPlan(JSON.parse(JSON.stringify(compact))), plan);
    });

    it('ranktables: the workflow keeps the device IPs; the 5 MB set is built and stored on the coordinator', (t) => {
      const hccn = probes(plan);
      const ips = deviceIpsOf({ layout: plan.ranktable, hccn });
      const distribution = ranktableDistribution(buildRanktables({ layout: plan.ranktable, hccn }));
      const shared = distribution.shared.reduce((n, f) => n + f.content.length, 0);
      const global = distribution.shared.find((f) => f.path === 'global/global_ranktable_merge.json')!;
      t.diagnostic(
        `raw hccn_tool outputs ${kib(size(hccn))}, device IPs kept ${kib(size(ips))}; ` +
          `shared folder ${distribution.shared.length} files ${kib(shared)} (global ranktable ${kib(global.content.length)})`,
      );
      assert.ok(shared > 2 * MiB, 'the set could not travel in one payload, let alone one per host');
      assert.ok(size(ips) < 256 * KiB, `device IPs ${kib(size(ips))}`);
      // Each host's own files are copies of shared ones, as the Plan predicts without the bytes.
      for (const h of engineHosts)
        assert.deepEqual(ownRanktableFiles(plan.ranktable, h), distribution.own[h]);

      const coordinator = planHost(plan, plan.ranktable.coordinator);
      const build = {
        target: hostRef(plan, coordinator),
        owner: owner(plan, coordinator),
        root: plan.settings.ranktable_save_path,
        build: { layout: bareLayout(plan.ranktable), deviceIps: ips },
        own: ownRanktableFiles(plan.ranktable, coordinator.name),
      };
      const copies = engineHosts.map((h) => ({
        target: hostRef(plan, planHost(plan, h)),
        owner: owner(plan, planHost(plan, h)),
        root: plan.settings.ranktable_save_path,
        copy: { source: build.target, hash: 'f'.repeat(64) },
        own: ownRanktableFiles(plan.ranktable, h),
      }));
      t.diagnostic(`coordinator's write ${kib(size(build))}, every other host's ≤ ${kib(largest(copies))}`);
      assert.ok(size(build) < 512 * KiB, `the coordinator's write input ${kib(size(build))}`);
      assert.ok(largest(copies) < 4 * KiB);
    });

    it('every host step’s input is small, and so is a child workflow’s', (t) => {
      const perKind = {
        preflight: largest(plan.hosts.map((h) => preflightInput(plan, h.name))),
        container: largest(plan.hosts.map((h) => containerInput(plan, h.name))),
        syncCode: largest(plan.hosts.map((h) => syncCodeInput(plan, h.name))),
        launch: largest(engineHosts.map((h) => engineLaunchInput(plan, h, false))),
        ready: largest(engineHosts.map((h) => engineReadyInput(plan, h))),
        cleanup: largest(plan.hosts.map((h) => cleanupInput(plan, h.name))),
      };
      t.diagnostic(
        Object.entries(perKind)
          .map(([k, v]) => `${k} ≤ ${kib(v)}`)
          .join(', '),
      );
      for (const [kind, bytes] of Object.entries(perKind))
        assert.ok(bytes < 32 * KiB, `${kind}: ${kib(bytes)}`);

      // A step over all engine hosts goes to one child workflow, given the compact Plan.
      const child: HostStepsInput = {
        plan: compact,
        step: 'run_server.launch.1.0',
        phase: 'run_server',
        spec: { kind: 'launch', force: false, forceHosts: engineHosts },
        hosts: engineHosts,
        parallelism: 50,
        activity: DEFAULT_ACTIVITY_TUNING,
        executorTaskQueue: 'omni-deploy@executor',
        progressBatch: 128,
      };
      const launches = engineHosts.reduce((n, h) => n + size(engineLaunchInput(plan, h, false)), 0);
      t.diagnostic(`child input ${kib(size(child))}; the step's launch inputs together ${kib(launches)}`);
      assert.ok(size(child) < 512 * KiB);
      // The child continues as new past its budget; a run holds at most that plus what runs at
      // once (parallelism × the largest input).
      const run = HOST_STEPS_RUN_BUDGET.bytes + size(child) + 50 * perKind.launch;
      t.diagnostic(`a child run: at most ~${kib(run)}`);
      assert.ok(run < 4 * MiB);
    });

    it('the proxy’s and the health watch’s single inputs stay far from 2 MB', (t) => {
      const proxy = size(proxyInput(plan));
      const watch = size({ hosts: probeHosts(plan) });
      t.diagnostic(`proxy ${kib(proxy)}, health watch ${kib(watch)}`);
      assert.ok(proxy < MiB);
      assert.ok(watch < 512 * KiB);
    });

    it('what continue-as-new carries (compact Plan, options, the whole state table) stays below 1 MiB', (t) => {
      const state = ClusterState.fresh(
        plan.cluster,
        plan.hosts.map((h) => h.name),
        [...PHASES.slice(0, 7)],
        {},
      );
      for (const phase of PHASES.slice(0, 7)) {
        for (const h of plan.hosts) {
          state.markRunning(h.name, phase, 1_790_000_000_000);
          state.markStepDone(
            `${phase}.launch.1.0`,
            h.name,
            phase,
            1_790_000_000_500,
            '16 server(s) ready after 12.3 s',
          );
        }
        state.finishPhase(phase, state.status.hosts, 1_790_000_001_000);
      }
      state.setStepData('ranktable.ips', deviceIpsOf({ layout: plan.ranktable, hccn: probes(plan) }));
      state.setStepData('ranktable.staged', { hash: 'f'.repeat(64) });
      for (let i = 0; i < 200; i++)
        state.addEvent({
          at: 1_790_000_000_000 + i,
          kind: 'health',
          unit: 'decode-0',
          message: 'decode-0 degraded: 3 of 4096 API servers do not answer',
        });
      const carried = {
        plan: compact,
        options: {
          phases: [],
          parallelism: 50,
          executorTaskQueue: 'q',
          activity: DEFAULT_ACTIVITY_TUNING,
          maxHistoryEvents: 10_000,
          health: DEFAULT_HEALTH,
        },
        carried: state.data,
      };
      t.diagnostic(`continue-as-new input ${kib(size(carried))} (status table ${kib(size(state.status))})`);
      assert.ok(size(carried) < MiB, kib(size(carried)));
    });
  });
}
