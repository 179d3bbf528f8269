// runner: alone (measures which requests fail during rollouts and when; beside other files its outage windows stretched with the machine's load)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { simUp } from '../../sim';
import { failureWindow, runLoad, type LoadReport, type Sample } from '../../src/loadgen';
import type { Plan } from '../../src/plan/types';
import { selectPhases } from '../../src/shared/phases';
import type { ClusterStatus } from '../../src/workflows/cluster/types';
import { hostsRunSince, mixedCells, runningCells } from '../helpers/cells';
import { containersOn, recordHistory, ssh } from '../helpers/deploy';
import { withThirdPrefill } from '../helpers/layouts';
import { serverManifest } from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

const INSTANCE = 53;

/**
 * Changes to a running cluster as rollouts, through the CLI an operator uses (`deploy diff`,
 * `deploy start -i` on the running cluster, `deploy rollback`), with load through the proxy the
 * whole time: sim-2P1D on instance 53 (prefill p0 and p1, decode d0+d1, proxy c0 on p0's machine),
 * then a third prefill instance p2 added and removed again.
 */
describe('rollouts on the simulated cluster', () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { deploy: { phases: selectPhases() } });
  let plan: Plan;
  const report: string[] = [];

  const url = () => `http://${plan.proxy.address}:${plan.proxy.listenPort}/v1/completions`;
  const pids = async (hosts: string[]) =>
    Object.fromEntries(
      await Promise.all(
        hosts.map(async (h) => [
          h,
          (await serverManifest(sim.cluster.ctx, plan, h)).map((s) => s.pid).join(','),
        ]),
      ),
    );
  const containerIds = async (hosts: string[]) =>
    Object.fromEntries(
      await Promise.all(
        hosts.map(async (h) => {
          const host = plan.hosts.find((x) => x.name === h)!;
          const c = (await containersOn(sim.cluster.ctx, host.address)).find(
            (x) => x.name === host.container.name,
          );
          return [h, c?.id ?? ''];
        }),
      ),
    );

  /** Run `fn` with a bounded load through the proxy; the samples of the whole time. */
  async function underLoad<T>(
    fn: () => Promise<T>,
  ): Promise<{ result: T; load: LoadReport; samples: Sample[] }> {
    const samples: Sample[] = [];
    const stop = new AbortController();
    const loading = runLoad({
      url: url(),
      model: plan.settings.served_model_name,
      durationMs: 600_000,
      concurrency: 2,
      pauseMs: 50,
      timeoutMs: 20_000,
      signal: stop.signal,
      // As OpenAI's clients do: a request whose pooled connection the proxy closed on a reload
      // (before any answer) goes out once more. Counted and printed, never hidden.
      retryBrokenConnections: true,
      onSample: (s) => samples.push(s),
    });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      const result = await fn();
      await new Promise((r) => setTimeout(r, 1000));
      stop.abort();
      return { result, load: await loading, samples: samples.filter((s) => s.error !== 'aborted') };
    } finally {
      stop.abort();
      await loading.catch(() => undefined);
    }
  }

  const cli = (args: string[], timeoutMs?: number) => sim.cli(args, timeoutMs);
  const summary = (what: string, load: LoadReport, samples: Sample[], extra = '') => {
    const w = failureWindow(samples);
    const line =
      `${what.padEnd(34)} ${w.failures}/${load.sent} failed (${load.retried} resent after a broken connection)` +
      `${w.failures ? ` over ${(w.spanMs / 1000).toFixed(1)} s` : ''}; latency p50 ${load.latencyMs.p50.toFixed(0)} ms, ` +
      `p90 ${load.latencyMs.p90.toFixed(0)} ms, p99 ${load.latencyMs.p99.toFixed(0)} ms${extra}` +
      (w.failures
        ? ` (statuses ${JSON.stringify(load.byStatus)}, errors ${JSON.stringify(load.errors)})`
        : '');
    report.push(line);
    return w;
  };

  before(() => {
    plan = sim.plan;
  });

  after(() => {
    for (const line of report) console.log(line);
  });

  it('a prefill engine argument: only prefill engines restart, one instance at a time, no request fails', async () => {
    const args = plan.settings.prefill_extra_args.join(' ').replace('--max-num-seqs 16', '--max-num-seqs 8');
    assert.notEqual(args, plan.settings.prefill_extra_args.join(' '));
    const before = await pids(['p0', 'p1', 'd0', 'd1']);
    const { result, load, samples } = await underLoad(() =>
      cli(['start', '-i', sim.cluster.inventoryFile, '-e', `prefill_extra_args=${args}`]),
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /~ prefill-0 \(prefill\): update/);
    assert.match(result.stdout, /rollout: done/);
    const w = summary('prefill argument rollout', load, samples);
    assert.equal(w.failures, 0, 'no request failed while prefill rolled');
    const now = await pids(['p0', 'p1', 'd0', 'd1']);
    assert.notEqual(now.p0, before.p0);
    assert.notEqual(now.p1, before.p1);
    assert.equal(now.d0, before.d0, 'decode untouched');
    assert.equal(now.d1, before.d1, 'decode untouched');
    plan = sim.cluster.plan({ prefill_extra_args: args });
  });

  it('an image: every engine container replaced; prefill rolls without failures, the decode outage is measured', async () => {
    // A new image as an operator ships one: loaded on every engine host under a new name.
    const image = 'localhost/omni-sim-engine:rollout-e2e';
    for (const h of plan.hosts.filter((x) => x.role !== 'proxy'))
      await ssh(sim.cluster.ctx, h.address, `docker tag ${sim.cluster.sim.images.engine} ${image}`);
    const args = plan.settings.prefill_extra_args.join(' ');
    const before = await containerIds(['p0', 'p1', 'd0', 'd1', 'c0']);
    const { result, load, samples } = await underLoad(() =>
      cli([
        'start',
        '-i',
        sim.cluster.inventoryFile,
        '-e',
        `prefill_extra_args=${args}`,
        '-e',
        `DOCKER_IMAGE_ID=${image}`,
      ]),
    );
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const outage = Number(/decode outage ([\d.]+) s/.exec(result.stdout)?.[1]);
    assert.ok(outage > 0, result.stdout);
    const w = summary('image rollout', load, samples, `; decode outage ${outage.toFixed(1)} s`);
    // Requests fail only while decode is away: the prefill instances rolled without a failure.
    assert.ok(
      w.spanMs <= outage * 1000 + 3000,
      `failures spanned ${w.spanMs} ms, the decode outage ${outage} s`,
    );
    const after = await containerIds(['p0', 'p1', 'd0', 'd1', 'c0']);
    for (const h of ['p0', 'p1', 'd0', 'd1']) assert.notEqual(after[h], before[h], `${h} replaced`);
    assert.equal(after.c0, before.c0, 'the proxy has its own image: kept');
    plan = sim.cluster.plan({ prefill_extra_args: args, DOCKER_IMAGE_ID: image });
  });

  it('deploy rollback restores the previous image everywhere', async () => {
    const rollbackAt = Date.now();
    const { result, load, samples } = await underLoad(() => cli(['rollback', plan.cluster]));
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    summary('rollback', load, samples);
    for (const h of ['p0', 'p1', 'd0', 'd1']) {
      const host = plan.hosts.find((x) => x.name === h)!;
      const image = await ssh(
        sim.cluster.ctx,
        host.address,
        `docker inspect --format '{{.Config.Image}}' ${host.container.name}`,
      );
      assert.equal(image.trim(), sim.cluster.sim.images.engine, h);
    }
    // `deploy status --json` after the rollout and the rollback: each cell is its last run's.
    const status = JSON.parse((await cli(['status', plan.cluster, '--json'])).stdout) as ClusterStatus;
    assert.equal(status.stage, 'ready');
    assert.deepEqual(runningCells(status), [], 'no cell is left running');
    assert.deepEqual(mixedCells(status), [], "no cell mixes two runs' times");
    assert.deepEqual(
      hostsRunSince(status, rollbackAt),
      ['c0', 'd0', 'd1', 'p0', 'p1'],
      'the rollback re-ran these (c0: the proxy follows the instances)',
    );
  });

  it('a third prefill instance: deploy diff changes nothing, the rollout adds it, it serves, then it is removed clean', async () => {
    const threeFile = path.join(path.dirname(sim.cluster.inventoryFile), 'sim-3P1D.yml');
    fs.writeFileSync(
      threeFile,
      withThirdPrefill(fs.readFileSync(sim.cluster.inventoryFile, 'utf8'), sim.cluster.ctx.subnet),
    );
    await simUp([{ name: 'p2', address: `${sim.cluster.ctx.subnet}.15` }], {
      ctx: sim.cluster.ctx,
      devices: 2,
    });
    const args = plan.settings.prefill_extra_args.join(' ');
    const extra = ['-e', `prefill_extra_args=${args}`];

    const pidsBefore = await pids(['p0', 'p1', 'd0', 'd1']);
    const diff = await cli(['diff', '-i', threeFile, ...extra]);
    assert.equal(diff.code, 2, diff.stderr);
    assert.match(diff.stdout, /\+ prefill-2 \(prefill\): add/);
    assert.deepEqual(
      await pids(['p0', 'p1', 'd0', 'd1']),
      pidsBefore,
      'deploy diff changed nothing on the hosts',
    );

    const added = await underLoad(() => cli(['start', '-i', threeFile, ...extra]));
    assert.equal(added.result.code, 0, `${added.result.stdout}\n${added.result.stderr}`);
    const addOutage = Number(/decode outage ([\d.]+) s/.exec(added.result.stdout)?.[1]);
    const addWindow = summary(
      'add a prefill instance',
      added.load,
      added.samples,
      `; outage ${addOutage.toFixed(1)} s`,
    );
    // The engines switch layouts together: requests fail (502, drained) only in that window, and
    // no old engine meets a new one (a decode refusing a KV transfer would answer 400).
    assert.equal(added.load.byStatus['400'], undefined, JSON.stringify(added.load.byStatus));
    assert.ok(
      addWindow.spanMs <= addOutage * 1000 + 3000,
      `failures spanned ${addWindow.spanMs} ms, the outage ${addOutage} s`,
    );
    plan = sim.cluster.plan({ prefill_extra_args: args });
    const three = JSON.parse((await cli(['plan', '-i', threeFile, ...extra, '--json'])).stdout) as Plan;
    const p2 = three.hosts.find((h) => h.name === 'p2')!;
    // The global ranktable on every engine host lists p2; its kv rank serves requests.
    for (const h of three.hosts.filter((x) => x.role !== 'proxy')) {
      const global = await ssh(sim.cluster.ctx, h.address, `cat '${three.ranktable.globalFile}'`);
      assert.ok(global.includes(p2.address), `${h.name}'s global ranktable lists p2`);
    }
    const served = new Set<string>();
    for (let i = 0; i < 20 && !served.has(`${p2.address}:${p2.apiPort}`); i++) {
      const r = await fetch(url(), {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ model: three.settings.served_model_name, prompt: `hi ${i}`, max_tokens: 4 }),
      });
      const body = (await r.json()) as { omni_sim?: { prefill?: { host: string; port: number } } };
      if (body.omni_sim?.prefill) served.add(`${body.omni_sim.prefill.host}:${body.omni_sim.prefill.port}`);
    }
    assert.ok(served.has(`${p2.address}:${p2.apiPort}`), `p2 served a request: ${[...served].join(' ')}`);

    const removed = await underLoad(() => cli(['start', '-i', sim.cluster.inventoryFile, ...extra]));
    assert.equal(removed.result.code, 0, `${removed.result.stdout}\n${removed.result.stderr}`);
    summary('remove it again', removed.load, removed.samples);
    assert.equal(removed.load.byStatus['400'], undefined, JSON.stringify(removed.load.byStatus));
    assert.deepEqual(await containersOn(sim.cluster.ctx, p2.address), [], 'no container left on p2');
    const left = await ssh(
      sim.cluster.ctx,
      p2.address,
      'ls -A /tmp/scripts_path /tmp/ranktable_save_path 2>/dev/null; true',
    );
    assert.equal(left.trim(), '', 'nothing the tool made is left on p2');
    // With RECORD_HISTORIES=1, for test/workflow/replay.test.ts: rollouts of an argument and an
    // image, a rollback, an instance added (its ranktables) and removed, steps in this workflow.
    await recordHistory(sim.handle, 'deploy-rollouts-rollback-add-remove-prefill');
  });
});
