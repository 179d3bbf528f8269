import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { clusterWorkflowId } from '../../src/shared/ids';
import { restartServersUpdate, statusQuery } from '../../src/workflows/cluster/messages';
import type { ClusterStatus } from '../../src/workflows/cluster/types';
import {
  ALL_PHASES,
  assertPrefillThenDecode,
  complete,
  describeFailures,
  liveServers,
  proxyUpstreams,
  proxyUrl,
  waitForStatus,
  type CompletionResult,
  type ServerRecord,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * sim-2P1D served end to end (instance 31) with the real Temporal server and a `deploy worker`
 * process: `deploy start --detach` to a ready cluster (`deploy status --json`), completions
 * streamed and not through the proxy that passed prefill then decode, then decode-only restarts
 * (the update, and `deploy restart --role decode`) on the same workflow run.
 */
const INSTANCE = 31;

describe('serving sim-2P1D', { timeout: 240_000 }, () => {
  // `deploy worker` with its defaults: the executor `deploy start` names by default.
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { workers: 'process', workerArgs: [] });
  let runId: string;

  const engineHosts = () => sim.plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);
  const pids = async () => {
    const all = new Map<string, (ServerRecord & { alive: boolean })[]>();
    for (const h of engineHosts()) all.set(h, await liveServers(sim.cluster.ctx, sim.plan, h));
    return all;
  };
  const pidsOf = (m: Map<string, ServerRecord[]>, hosts: string[]) =>
    hosts.flatMap((h) => m.get(h)!.map((s) => `${h}:${s.port}:${s.pid}`));

  /** The proxy's own record: it called that prefill, then that decode, for this request. */
  async function assertProxyLog(r: CompletionResult, via: { prefill: string; decode: string }) {
    assert.deepEqual(
      await proxyUpstreams(sim.cluster.ctx, sim.plan, r.requestId),
      [via.prefill, via.decode],
      'the proxy access log shows prefill then decode',
    );
  }

  /** Both API shapes, streamed and not: every answer went prefill → decode. */
  async function assertServes(): Promise<void> {
    const plan = sim.plan;
    const url = proxyUrl(plan);
    const model = plan.settings.served_model_name;
    const plain = await complete(url, 'completions', { model, prompt: 'hello there', max_tokens: 6 });
    await assertProxyLog(plain, assertPrefillThenDecode(plan, plain));
    assert.match(plain.contentType, /application\/json/);
    assert.match(plain.text, / tok5$/);

    const streamed = await complete(url, 'chat', {
      model,
      messages: [{ role: 'user', content: 'hello there' }],
      max_tokens: 6,
      stream: true,
    });
    await assertProxyLog(streamed, assertPrefillThenDecode(plan, streamed));
    assert.match(streamed.contentType, /text\/event-stream/);
    assert.equal(streamed.chunks, 6, 'one SSE chunk per token, streamed back from the decode');
    assert.ok(streamed.done, 'the stream ends with [DONE]');
  }

  it('deploy start --detach → ready (deploy status --json) → completions through the proxy', async (t) => {
    const plan = sim.plan;
    const started = Date.now();
    const start = await sim.cli(['start', '--inventory', sim.cluster.inventoryFile, '--detach']);
    assert.equal(start.code, 0, start.stderr);
    assert.match(start.stdout, new RegExp(`started ${clusterWorkflowId(plan.cluster)}`));
    const handle = sim.adopt();
    const ready = await waitForStatus(
      handle,
      'the deploy',
      (s) => s.stage === 'ready' || s.stage === 'waiting-for-operator',
      120_000,
    );
    const took = Date.now() - started;
    t.diagnostic(`sim-2P1D: deploy start → ready in ${(took / 1000).toFixed(1)} s`);
    assert.equal(ready.stage, 'ready', describeFailures(ready.failures));

    const status = await sim.cli(['status', plan.cluster, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const json = JSON.parse(status.stdout) as ClusterStatus & { workflow: string };
    assert.equal(json.workflow, 'RUNNING');
    assert.equal(json.stage, 'ready');
    assert.deepEqual(json.phases, ALL_PHASES);
    for (const p of ALL_PHASES) {
      const cells = plan.hosts.map((h) => [h.name, json.table[h.name]?.[p]] as const).filter(([, c]) => c);
      assert.ok(
        cells.some(([, c]) => c!.state === 'ok'),
        `${p} ran`,
      );
      for (const [h, c] of cells)
        assert.ok(c!.state === 'ok' || c!.state === 'skipped', `${h} ${p}: ${c!.state}`);
    }
    for (const h of engineHosts()) assert.equal(json.table[h]?.run_server?.state, 'ok', `${h} run_server`);
    assert.match(
      json.table.c0!.verify!.note!,
      /^prefill \S+ → decode \S+$/,
      'verify saw prefill then decode',
    );
    runId = (await handle.describe()).runId;

    await assertServes();
  });

  it('restartServers for decode only: new decode PIDs, prefill untouched, same run', async () => {
    const handle = sim.handle; // needs the deployed cluster
    const before = await pids();
    for (const [h, servers] of before)
      assert.ok(
        servers.every((s) => s.alive),
        `${h} servers alive`,
      );

    const outcome = await handle.executeUpdate(restartServersUpdate, { args: [{ roles: ['decode'] }] });
    assert.equal(outcome.ok, true, describeFailures(outcome.failures));
    assert.deepEqual(outcome.hosts, ['d0', 'd1']);

    const afterRestart = await pids();
    for (const [h, servers] of afterRestart)
      assert.ok(
        servers.every((s) => s.alive),
        `${h} alive after`,
      );
    const prefill = ['p0', 'p1'];
    const decode = ['d0', 'd1'];
    assert.deepEqual(pidsOf(afterRestart, prefill), pidsOf(before, prefill), 'prefill kept its processes');
    const oldDecode = new Set(pidsOf(before, decode));
    for (const d of pidsOf(afterRestart, decode))
      assert.ok(!oldDecode.has(d), `decode ${d} is a new process`);
    assert.equal(
      afterRestart.get('d0')!.length + afterRestart.get('d1')!.length,
      before.get('d0')!.length * 2,
    );

    await assertServes();
    const description = await handle.describe();
    assert.equal(description.runId, runId, 'the same workflow run');
    assert.equal(description.status.name, 'RUNNING');
    const status = await handle.query(statusQuery);
    assert.equal(status.stage, 'ready');
    assert.equal(status.generation, 0);
  });

  it('deploy restart <cluster> --role decode', async () => {
    const handle = sim.handle; // needs the deployed cluster
    const before = await pids();
    const r = await sim.cli(['restart', sim.plan.cluster, '--role', 'decode']);
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /restarted d0, d1: ready again/);
    const afterRestart = await pids();
    assert.deepEqual(pidsOf(afterRestart, ['p0', 'p1']), pidsOf(before, ['p0', 'p1']));
    const oldDecode = new Set(pidsOf(before, ['d0', 'd1']));
    for (const d of pidsOf(afterRestart, ['d0', 'd1'])) assert.ok(!oldDecode.has(d), `decode ${d} is new`);
    for (const [h, servers] of afterRestart)
      assert.ok(
        servers.every((s) => s.alive),
        `${h} alive`,
      );
    await assertServes();
    assert.equal((await handle.describe()).runId, runId, 'the same workflow run');
  });
});
