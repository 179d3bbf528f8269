import { Option, type Command } from 'commander';
import type { BenchFlags } from '../actions/bench';

// Loaded when it runs (see main.ts): the benchmark, and the Temporal client only to find a cluster.
const actions = (): typeof import('../actions/bench') => require('../actions/bench');

export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      "benchmark a cluster's proxy (or --url) as `vllm bench serve` does: throughput, TTFT, TPOT, ITL and end-to-end latency, goodput",
    )
    .argument('[cluster]', 'cluster name (default: the only cluster running)')
    .option('-i, --inventory <file>', 'take the cluster name from this inventory instead')
    .option(
      '--url <url>',
      'a completions endpoint instead of a cluster (loopback or the simulated cluster only); a bare http://host:port takes --endpoint',
    )
    .option('--endpoint <path>', 'API path: /v1/completions or /v1/chat/completions', '/v1/completions')
    .option(
      '--model <name>',
      "model to ask for (default: the cluster's served model name, or the first the endpoint's /v1/models lists)",
    )
    .option(
      '--request-rate <rate>',
      'requests per second, Poisson arrivals (inf: all at once); at most 1000',
      'inf',
    )
    .option(
      '--burstiness <factor>',
      'gamma shape of the arrival gaps: 1 Poisson, below 1 burstier, above 1 steadier',
      '1',
    )
    .option('--max-concurrency <n>', 'requests in flight at most, 1 to 256 (there are never more than 256)')
    .option('--num-prompts <n>', 'requests to send, at most 100000 (default 1000; with --duration, the most)')
    .option('--duration <time>', 'stop starting requests after this long: 90s, 15m, seconds; at most 1h')
    .option('--seed <n>', 'seed of the random prompts and of the arrival times', '0')
    .option('--dataset-name <name>', 'random, or jsonl (vLLM: custom) with --dataset-path', 'random')
    .option(
      '--dataset-path <file>',
      'JSONL prompts: one {"prompt": …, "output_len": N} (or max_tokens) per line',
    )
    .option('--random-input-len <n>', 'prompt words (one token each for the simulated engine)', '1024')
    .option(
      '--random-output-len <n>',
      'tokens asked for (max_tokens); also for JSONL lines that name none',
      '128',
    )
    .option('--random-range-ratio <r>', 'lengths drawn uniformly within ±r of the above, 0 ≤ r < 1', '0')
    .option('--goodput <slo...>', 'SLOs as KEY:MS pairs for goodput: ttft:500 tpot:50 e2el:5000')
    .option(
      '--percentile-metrics <list>',
      'metrics with percentiles: ttft,tpot,itl,e2el',
      'ttft,tpot,itl,e2el',
    )
    .option('--metric-percentiles <list>', 'percentiles to report', '50,90,99')
    .option('--request-timeout <time>', 'per request, at most 10m', '10m')
    .option('--json', "print the result as JSON (the keys of vLLM's result file) instead of the report")
    .option('--save-result', "write the result to a JSON file (vLLM's file name unless --result-filename)")
    .option('--result-filename <file>', 'the result file (implies --save-result)')
    .option('--result-dir <dir>', 'folder of the result file')
    .option('--save-detailed', "add vLLM's per-request arrays (ttfts, itls, latencies, …) to the result")
    .option('--plot <file>', 'draw latency over time and its distribution to FILE.svg or FILE.png')
    .option('--no-progress', 'no progress bar (shown only on a terminal, never with --json)')
    .addOption(new Option('--disable-tqdm', "vLLM's name for --no-progress").hideHelp())
    .action(async (cluster: string | undefined, flags: BenchFlags) => {
      process.exitCode = await actions().benchCluster(cluster, flags);
    });
}
