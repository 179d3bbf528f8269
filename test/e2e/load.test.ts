import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBench, type BenchReport } from '../../src/bench';
import { histogram, parseExposition, total, type Sample } from '../../src/top/exposition';
import { dashboardMetrics } from '../helpers/dashboard';
import { ssh } from '../helpers/deploy';
import { startLocalProxy, type LocalProxy } from '../helpers/localProxy';
import { ALL_PHASES, proxyUrl } from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';
import { waitFor } from '../helpers/waitFor';

/**
 * The engine simulator's performance model under load on sim-2P1D (instance 76: two prefill
 * instances, one decode instance of four DP ranks), measured with `deploy bench`'s engine and
 * `deploy top`, and checked against the engines' own vLLM metrics. Prefill capacity is the
 * model's default, 8,000 prompt tokens/s per API server (docs/engine-model.md). Comparisons of one
 * prefill instance against two, or of one decode rank on its own, go through local proxies (the
 * default proxy's own config, src/plan/proxy) in front of chosen engines of the same cluster.
 */
const INSTANCE = 76;

describe('latency under load on sim-2P1D', { timeout: 600_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { deploy: { phases: ALL_PHASES } });
  const proxies: LocalProxy[] = [];
  let work: string;

  const engineHosts = () => sim.plan.hosts.filter((h) => h.role !== 'proxy');
  /** The knob file every engine re-reads each step (sim/engine/knobs.go). */
  const setKnobs = async (lines: string[]) => {
    const text = lines.join('\n');
    await Promise.all(
      engineHosts().map((h) =>
        ssh(
          sim.cluster.ctx,
          h.address,
          `mkdir -p /data/omni-sim && printf '%s\\n' '${text}' > /data/omni-sim/engine.env`,
        ),
      ),
    );
  };
  const proxy = async (prefill: string[], decode: string[]) => {
    const p = await startLocalProxy({ prefill, decode, balance: 'least_conn' });
    proxies.push(p);
    return `${p.base}/v1/completions`;
  };
  const model = () => sim.plan.settings.served_model_name;
  const allServers = () => [...sim.plan.proxy.prefillUpstreams, ...sim.plan.proxy.decodeUpstreams];
  const scrape = async (server: string) =>
    parseExposition(await (await fetch(`http://${server}/metrics`)).text());

  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-load-'));
  });
  after(async () => {
    for (const p of proxies) await p.stop();
    fs.rmSync(work, { recursive: true, force: true });
  });

  /** TTFT p90 (ms) of the requests that started in [fromS, toS) of a run. */
  const ttftP90 = (r: BenchReport, fromS = 0, toS = Infinity) => {
    const v = r.requests
      .filter((q) => q.ok && q.startMs / 1000 >= fromS && q.startMs / 1000 < toS)
      .map((q) => q.ttftMs)
      .sort((a, b) => a - b);
    assert.ok(v.length >= 5, `only ${v.length} requests in [${fromS}, ${toS}) s`);
    return v[Math.ceil(0.9 * v.length) - 1]!;
  };

  it('a prefill above its capacity queues (TTFT grows with time); two prefill instances bring TTFT p90 down by ≥ 40 %', async (t) => {
    await setKnobs([]);
    const [p0, p1] = sim.plan.proxy.prefillUpstreams;
    // 2,000-token prompts at 6/s: 12,000 tokens/s against 8,000 for one instance, 16,000 for two.
    const load = (url: string) =>
      runBench({
        url,
        model: model(),
        requestRate: 6,
        numPrompts: 72,
        randomInputLen: 2000,
        randomOutputLen: 4,
        seed: 3,
      });
    const one = await load(await proxy([p0!], sim.plan.proxy.decodeUpstreams));
    const two = await load(await proxy([p0!, p1!], sim.plan.proxy.decodeUpstreams));
    assert.equal(one.result.failed + two.result.failed, 0);
    // The queue grows all along: the last quarter of the run waits seconds longer than the first.
    // (With the seed's 30,000-token budget a prefill step holds ~15 prompts and lasts ~3.8 s, so
    // even the first requests wait one step: the growth is in seconds, not a large ratio.)
    const early = ttftP90(one, 0, 3);
    const late = ttftP90(one, 9, 12);
    assert.ok(
      late > 1.5 * early && late - early > 3000,
      `one instance: TTFT p90 ${early.toFixed(0)} ms early, ${late.toFixed(0)} ms late`,
    );
    const [p90One, p90Two] = [ttftP90(one), ttftP90(two)];
    t.diagnostic(
      `one prefill: TTFT p90 ${early.toFixed(0)} ms in 0-3 s, ${late.toFixed(0)} ms in 9-12 s, ${p90One.toFixed(0)} ms overall; two: ${p90Two.toFixed(0)} ms`,
    );
    assert.ok(
      p90Two <= 0.6 * p90One,
      `TTFT p90 with two prefill instances ${p90Two.toFixed(0)} ms, with one ${p90One.toFixed(0)} ms`,
    );
  });

  it('decode time per output token grows with the running batch', async (t) => {
    await setKnobs(['SIM_ENGINE_DECODE_PER_SEQ_MS=4']);
    try {
      const run = (concurrency: number, prompts: number) =>
        runBench({
          url: `${proxyUrl(sim.plan)}/v1/completions`,
          model: model(),
          maxConcurrency: concurrency,
          numPrompts: prompts,
          randomInputLen: 50,
          randomOutputLen: 32,
          seed: 4,
        });
      const alone = await run(1, 4);
      const batched = await run(64, 64);
      const tpot = (r: BenchReport) => Number(r.result.mean_tpot_ms);
      t.diagnostic(
        `mean TPOT ${tpot(alone).toFixed(1)} ms alone, ${tpot(batched).toFixed(1)} ms with 64 in flight`,
      );
      // 4 decode ranks: 16 running each → 25 + 16 × 4 ms per step, against 25 + 4 alone.
      assert.ok(
        tpot(batched) >= 1.5 * tpot(alone),
        `TPOT ${tpot(alone).toFixed(1)} ms alone, ${tpot(batched).toFixed(1)} ms with 64 in flight`,
      );
    } finally {
      await setKnobs([]);
    }
  });

  it('a request that does not fit the free KV cache waits, and deploy top shows it waiting on that rank', async (t) => {
    const rank = sim.plan.proxy.decodeUpstreams[0]!;
    // 4,096 tokens of KV per decode rank: one 3,000-token request fits, a second waits for it.
    await setKnobs(['SIM_ENGINE_KV_TOKENS@decode=4096']);
    try {
      const url = await proxy([sim.plan.proxy.prefillUpstreams[0]!], [rank]);
      const bench = runBench({
        url,
        model: model(),
        numPrompts: 2,
        maxConcurrency: 2,
        randomInputLen: 3000,
        randomOutputLen: 240, // 240 steps of ~25 ms: the first holds the cache ~6 s
        seed: 5,
      });
      const waiting = await waitFor(
        async () => {
          const s = await scrape(rank);
          return (total(s, 'vllm:num_requests_waiting') ?? 0) >= 1 ? s : undefined;
        },
        { timeout: 20_000, interval: 100, what: `a request waiting on ${rank}` },
      );
      assert.equal(total(waiting, 'vllm:num_requests_running'), 1);
      const top = await sim.cli(['top', sim.plan.cluster, '--json', '--interval', '500ms'], 60_000);
      assert.equal(top.code, 0, top.stderr);
      const view = JSON.parse(top.stdout) as {
        rows: { server: string; load?: { waiting: number; running: number } }[];
        proxy?: { load?: { active: number } };
      };
      assert.ok(view.proxy?.load !== undefined, `no proxy status in ${top.stdout}`);
      const row = view.rows.find((r) => r.server === rank);
      assert.equal(row?.load?.waiting, 1, top.stdout);
      assert.equal(view.rows.length, allServers().length);
      const table = await sim.cli(['top', sim.plan.cluster, '--count', '1', '--interval', '500ms'], 60_000);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /UNIT\s+SERVER\s+RUN\s+WAIT\s+KV%/);
      // The last refresh: title, proxy line, header, one row per server.
      t.diagnostic(
        table.stdout
          .trim()
          .split('\n')
          .slice(-(allServers().length + 3))
          .join('\n'),
      );
      const report = await bench;
      assert.equal(report.result.failed, 0);
      const [first, second] = [...report.requests].sort((a, b) => a.ttftMs - b.ttftMs);
      // The second got its first token only once the first had finished and freed its blocks.
      assert.ok(
        second!.ttftMs >= first!.latencyMs - 200,
        `second TTFT ${second!.ttftMs.toFixed(0)} ms, first E2E ${first!.latencyMs.toFixed(0)} ms`,
      );
    } finally {
      await setKnobs([]);
    }
  });

  /** Means from the engines' histograms (sum / count), over what changed between two scrapes. */
  const meanOf = (before: Sample[][], after: Sample[][], name: string) => {
    let sum = 0;
    let count = 0;
    after.forEach((s, i) => {
      const a = histogram(s, name);
      const b = histogram(before[i]!, name);
      sum += (a?.sum ?? 0) - (b?.sum ?? 0);
      count += (a?.count ?? 0) - (b?.count ?? 0);
    });
    return (sum / count) * 1000;
  };

  it("deploy bench prints vLLM's report, writes a plot, and its latencies agree with the engines' own metrics", async (t) => {
    const prefill = sim.plan.proxy.prefillUpstreams;
    const decode = sim.plan.proxy.decodeUpstreams;
    // What the engines cannot see — the proxy's two hops, the client — costs ~20 ms a request when
    // five e2e files share the two cores. The model runs three times slower here, so that time is
    // a small share of what is compared (a 2,000-token prompt: ~0.8 s of prefill).
    await setKnobs(['SIM_ENGINE_TIME_SCALE=3']);
    t.after(() => setKnobs([]));
    const before = await Promise.all([...prefill, ...decode].map(scrape));
    const plot = path.join(work, 'latency.svg');
    const resultFile = path.join(work, 'result.json');
    const r = await sim.cli(
      [
        'bench',
        sim.plan.cluster,
        '--num-prompts',
        '30',
        '--request-rate',
        '2',
        '--random-input-len',
        '2000',
        '--random-output-len',
        '16',
        '--plot',
        plot,
        '--result-filename',
        resultFile,
      ],
      180_000,
    );
    assert.equal(r.code, 0, r.stderr);
    for (const heading of [
      'Serving Benchmark Result',
      'Successful requests:',
      'Request throughput (req/s):',
      'Time to First Token',
      'P90 TTFT (ms):',
      'Time per Output Token (excl. 1st token)',
      'P99 E2EL (ms):',
    ])
      assert.ok(r.stdout.includes(heading), `no "${heading}" in\n${r.stdout}`);
    const after = await Promise.all([...prefill, ...decode].map(scrape));
    // Every engine metric the Grafana dashboard's panels query is in the engines' scrapes.
    const seen = new Set(after.flatMap((samples) => samples.map((x) => x.name)));
    for (const name of dashboardMetrics().engine) assert.ok(seen.has(name), `the dashboard queries ${name}`);
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as Record<string, number>;
    assert.equal(result.completed, 30);
    const prefillAfter = after.slice(0, prefill.length);
    const prefillBefore = before.slice(0, prefill.length);
    const decodeAfter = after.slice(prefill.length);
    const decodeBefore = before.slice(prefill.length);
    // A client's request is a prefill request (1 token) and then a decode request; vLLM times each
    // from its arrival at that engine, so the client's means are the sums of the engines' means.
    const prefillE2e = meanOf(prefillBefore, prefillAfter, 'vllm:e2e_request_latency_seconds');
    const engine = {
      ttft: prefillE2e + meanOf(decodeBefore, decodeAfter, 'vllm:time_to_first_token_seconds'),
      tpot: meanOf(decodeBefore, decodeAfter, 'vllm:time_per_output_token_seconds'),
      e2el: prefillE2e + meanOf(decodeBefore, decodeAfter, 'vllm:e2e_request_latency_seconds'),
    };
    for (const m of ['ttft', 'tpot', 'e2el'] as const) {
      const client = result[`mean_${m}_ms`]!;
      t.diagnostic(`mean ${m}: deploy bench ${client.toFixed(1)} ms, engines ${engine[m].toFixed(1)} ms`);
      assert.ok(
        Math.abs(client - engine[m]) <= 0.05 * engine[m],
        `mean ${m}: deploy bench ${client.toFixed(1)} ms, engines ${engine[m].toFixed(1)} ms`,
      );
    }
    const svg = fs.readFileSync(plot, 'utf8');
    assert.ok(svg.startsWith('<svg') && svg.length > 5000, `plot of ${svg.length} bytes`);
    for (const label of ['request start (s)', 'latency (ms)']) assert.ok(svg.includes(label), label);
  });

  it('deploy top and deploy bench refuse bad input with one line and no stack trace', async () => {
    for (const args of [
      ['top', 'no-such-cluster', '--json'],
      ['top', '--interval', '10ms'],
      ['bench', sim.plan.cluster, '--request-rate', '100000'],
      ['bench', '--url', 'http://127.0.0.1:9/v1/completions', '--num-prompts', '1'],
    ]) {
      const r = await sim.cli(args, 60_000);
      assert.notEqual(r.code, 0, args.join(' '));
      const lines = r.stderr.trim().split('\n');
      assert.ok(
        lines[0]!.startsWith('error:') && !/\n\s+at /.test(r.stderr),
        `${args.join(' ')}:\n${r.stderr}`,
      );
    }
  });
});
