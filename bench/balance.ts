/**
 * Load-aware balancing against round-robin, measured with `deploy bench`'s engine (runBench) on one
 * simulated cluster (sim-2P1D, sim instance 54: two prefill instances, one decode instance of four
 * DP ranks) in one run. Both policies are the default proxy's config (renderProxyConfig) run as
 * two local nginx proxies in front of the same engines, so nothing but the balancing differs; the
 * runs alternate (skewed RR, skewed least_conn, uniform RR, uniform least_conn).
 *
 * Workloads (seeded JSONL prompt files, 16 output tokens each):
 * - skewed: prompt lengths mixing 100 and 8,000 tokens (one long in four), at 85 % of the two
 *   prefill instances' capacity;
 * - uniform: every prompt 2,000 tokens, at the same token rate.
 * Capacity comes from the engine model's defaults (docs/engine-model.md): 8,000 prompt tokens/s
 * per prefill API server.
 * Run: npm run bench:balance   (about 5 minutes)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBench } from '../src/bench';
import type { BenchResult } from '../src/bench';
import { randomDataset } from '../src/bench/dataset';
import { seededRng, uniformInt } from '../src/bench/random';
import { selectPhases } from '../src/shared/phases';
import type { ProxyBalance } from '../src/shared/proxyBalance';
import {
  startDeploy,
  startDeployEnv,
  TEST_EXECUTOR,
  testOptions,
  waitForStatus,
} from '../test/helpers/deploy';
import { startLocalProxy } from '../test/helpers/localProxy';
import { upTestCluster } from '../test/helpers/simCluster';

const PREFILL_TOKENS_PER_S = 8000;
const RUN_S = Number(process.env.BALANCE_RUN_S ?? 60);
const LOAD = 0.85;
const OUTPUT_LEN = 16;

/** A JSONL prompt file of these prompt lengths, each prompt from deploy bench's seeded random dataset. */
function promptFile(dir: string, name: string, lens: number[]): string {
  const lines = lens.map((inputLen, i) => {
    const { prompt } = randomDataset({ inputLen, outputLen: OUTPUT_LEN, rangeRatio: 0, seed: 7 }).request(i);
    return JSON.stringify({ prompt, output_len: OUTPUT_LEN });
  });
  const file = path.join(dir, `${name}.jsonl`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The lengths in a seeded random order (Fisher–Yates), so long prompts do not arrive in a pattern. */
function shuffled(lens: number[]): number[] {
  const rng = seededRng(11);
  const out = [...lens];
  for (let i = out.length - 1; i > 0; i--) {
    const j = uniformInt(rng, 0, i);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const ms = (r: BenchResult, key: string) => Number(r[key]);

async function main(): Promise<void> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-bench-balance-'));
  const cluster = await upTestCluster('sim-2P1D', 54);
  const deploy = await startDeployEnv();
  const proxies: { stop: () => Promise<void> }[] = [];
  try {
    const plan = cluster.plan();
    const t0 = Date.now();
    const handle = await startDeploy(deploy.client, plan, testOptions(selectPhases()));
    await waitForStatus(handle, (s) => s.stage === 'ready', 300_000, 'sim-2P1D ready');
    console.log(
      `sim-2P1D deployed in ${((Date.now() - t0) / 1000).toFixed(1)} s (executor ${TEST_EXECUTOR})`,
    );

    const capacity = plan.proxy.prefillUpstreams.length * PREFILL_TOKENS_PER_S;
    const skewLens = shuffled(Array.from({ length: 400 }, (_, i) => (i % 4 === 0 ? 8000 : 100)));
    const meanSkew = skewLens.reduce((a, b) => a + b) / skewLens.length;
    const workloads = [
      { name: 'skewed', file: promptFile(work, 'skewed', skewLens), rate: (LOAD * capacity) / meanSkew },
      {
        name: 'uniform',
        file: promptFile(work, 'uniform', Array(400).fill(2000)),
        rate: (LOAD * capacity) / 2000,
      },
    ];
    const proxy: Record<ProxyBalance, string> = { round_robin: '', least_conn: '' };
    for (const balance of ['round_robin', 'least_conn'] as const) {
      const p = await startLocalProxy({
        prefill: plan.proxy.prefillUpstreams,
        decode: plan.proxy.decodeUpstreams,
        balance,
      });
      proxies.push(p);
      proxy[balance] = `${p.base}/v1/completions`;
    }
    const rows: string[] = [];
    for (const w of workloads) {
      const p90: Record<string, number> = {};
      for (const balance of ['round_robin', 'least_conn'] as const) {
        const { result } = await runBench({
          url: proxy[balance],
          model: plan.settings.served_model_name,
          datasetName: 'jsonl',
          datasetPath: w.file,
          requestRate: w.rate,
          numPrompts: Math.round(w.rate * RUN_S),
          seed: 1,
          metricPercentiles: [50, 90, 99],
        });
        p90[balance] = ms(result, 'p90_ttft_ms');
        rows.push(
          `${w.name.padEnd(8)} ${balance.padEnd(12)} rate ${w.rate.toFixed(2)}/s  completed ${result.completed}/${result.completed + result.failed}  ` +
            `TTFT p50 ${ms(result, 'median_ttft_ms').toFixed(0)} p90 ${p90[balance].toFixed(0)} p99 ${ms(result, 'p99_ttft_ms').toFixed(0)} ms  ` +
            `TPOT p90 ${ms(result, 'p90_tpot_ms').toFixed(1)} ms`,
        );
        console.log(rows[rows.length - 1]);
      }
      const ratio = p90.least_conn! / p90.round_robin!;
      const line = `${w.name}: least_conn TTFT p90 = ${ratio.toFixed(2)} × round-robin's (${((1 - ratio) * 100).toFixed(0)} % lower)`;
      rows.push(line);
      console.log(line);
    }
    console.log(`\n${rows.join('\n')}`);
    await handle.terminate();
  } finally {
    for (const p of proxies) await p.stop();
    await deploy.stop();
    await cluster.down();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
