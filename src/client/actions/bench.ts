import * as fs from 'node:fs';
import * as path from 'node:path';
import { createLogUpdate } from 'log-update';
import {
  checkOptions,
  parseDuration,
  parseGoodput,
  parseMetrics,
  parseNumber,
  parsePercentiles,
  parseRate,
  type BenchOptions,
} from '../../bench/options';
import { plotFormat, plotSpec, renderPlot } from '../../bench/plot';
import { progressLine } from '../../bench/progress';
import { formatPreamble, formatReport } from '../../bench/report';
import { defaultResultFilename } from '../../bench/result';
import { checkBenchTarget, runBench } from '../../bench/run';
import { clusterWorkflowId } from '../../shared/ids';
import { planQuery, statusQuery } from '../../workflows/cluster/messages';

export interface BenchFlags {
  inventory?: string;
  url?: string;
  endpoint: string;
  model?: string;
  requestRate: string;
  burstiness: string;
  maxConcurrency?: string;
  numPrompts?: string;
  duration?: string;
  seed: string;
  datasetName: string;
  datasetPath?: string;
  randomInputLen: string;
  randomOutputLen: string;
  randomRangeRatio: string;
  goodput?: string[];
  percentileMetrics: string;
  metricPercentiles: string;
  requestTimeout: string;
  json?: boolean;
  saveResult?: boolean;
  resultFilename?: string;
  resultDir?: string;
  saveDetailed?: boolean;
  plot?: string;
  progress: boolean;
  disableTqdm?: boolean;
}

/** The flags as runBench's options (the URL comes later), every bound checked before anything runs. */
export function benchOptions(f: BenchFlags): Omit<BenchOptions, 'url'> {
  const datasetName = f.datasetName === 'custom' ? 'jsonl' : f.datasetName;
  if (datasetName !== 'random' && datasetName !== 'jsonl')
    throw new Error(`--dataset-name must be random or jsonl, not ${f.datasetName}`);
  const options: Omit<BenchOptions, 'url'> = {
    ...(f.model !== undefined ? { model: f.model } : {}),
    requestRate: parseRate(f.requestRate),
    burstiness: parseRate(f.burstiness, '--burstiness'),
    ...(f.maxConcurrency !== undefined
      ? { maxConcurrency: parseNumber(f.maxConcurrency, '--max-concurrency') }
      : {}),
    ...(f.numPrompts !== undefined ? { numPrompts: parseNumber(f.numPrompts, '--num-prompts') } : {}),
    ...(f.duration !== undefined ? { durationMs: parseDuration(f.duration) } : {}),
    seed: parseNumber(f.seed, '--seed'),
    datasetName,
    ...(f.datasetPath !== undefined ? { datasetPath: f.datasetPath } : {}),
    randomInputLen: parseNumber(f.randomInputLen, '--random-input-len'),
    randomOutputLen: parseNumber(f.randomOutputLen, '--random-output-len'),
    randomRangeRatio: parseNumber(f.randomRangeRatio, '--random-range-ratio'),
    goodput: parseGoodput(f.goodput ?? []),
    percentileMetrics: parseMetrics(f.percentileMetrics),
    metricPercentiles: parsePercentiles(f.metricPercentiles),
    timeoutMs: parseDuration(f.requestTimeout),
    keepItls: f.saveDetailed === true,
  };
  checkOptions({ url: '', ...options });
  return options;
}

/** `--url`, with `--endpoint` when it names only the server. */
function urlTarget(raw: string, endpoint: string): string {
  const url = checkBenchTarget(raw);
  if (url.pathname === '/') url.pathname = endpoint;
  return url.href;
}

/**
 * A cluster's proxy URL, from the cluster workflow's status as `deploy status` shows it, and its
 * served model name from the Plan in force.
 */
async function clusterTarget(
  cluster: string | undefined,
  inventory: string | undefined,
  endpoint: string,
): Promise<{ cluster: string; url: string; model: string }> {
  // The Temporal client only to find a cluster: `deploy bench --url` loads none of it.
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded when a cluster is benchmarked
  const { withClient } = require('../temporalClient') as typeof import('../temporalClient');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- as above
  const { resolveCluster } = require('./status') as typeof import('./status');
  return withClient(async (client) => {
    const name = await resolveCluster(client, cluster, inventory);
    const handle = client.workflow.getHandle(clusterWorkflowId(name));
    const [status, plan] = await Promise.all([handle.query(statusQuery), handle.query(planQuery)]).catch(
      (err: unknown) => {
        if ((err as Error | undefined)?.name === 'WorkflowNotFoundError')
          throw new Error(`no cluster named ${name} (\`deploy list\` shows the clusters)`);
        throw err;
      },
    );
    const proxy = status.endpoints.proxy;
    if (!proxy)
      throw new Error(
        `${name} has no proxy endpoint yet (stage ${status.stage}); see \`deploy status ${name}\``,
      );
    const model = plan.prefill[0]?.engine.servedModelName ?? plan.settings.served_model_name;
    // The cluster's own proxy may be anywhere: no range check, unlike --url.
    const url = new URL(proxy);
    if (url.pathname === '/') url.pathname = endpoint;
    return { cluster: name, url: url.href, model };
  });
}

function writeResultFile(flags: BenchFlags, result: Parameters<typeof defaultResultFilename>[0]): string {
  let file = flags.resultFilename ?? defaultResultFilename(result);
  if (flags.resultDir) {
    fs.mkdirSync(flags.resultDir, { recursive: true });
    file = path.join(flags.resultDir, file);
  }
  fs.writeFileSync(file, `${JSON.stringify(result)}\n`);
  return file;
}

/**
 * `deploy bench`: a `vllm bench serve` run against a cluster's proxy or `--url`. Prints vLLM's
 * report (or the result as JSON), writes the result file and the plot when asked. Exit 0 when
 * some requests succeeded, 1 when none did, 130 after Ctrl-C (the report of what finished first).
 */
export async function benchCluster(cluster: string | undefined, flags: BenchFlags): Promise<number> {
  const options = benchOptions(flags);
  const plot = flags.plot !== undefined ? { file: flags.plot, format: plotFormat(flags.plot) } : undefined;
  if (!flags.endpoint.startsWith('/')) throw new Error(`--endpoint must be a path like /v1/completions`);
  if (flags.url !== undefined && (cluster !== undefined || flags.inventory !== undefined))
    throw new Error('give a cluster (or --inventory) or --url, not both');
  const target =
    flags.url !== undefined
      ? { cluster: undefined, url: urlTarget(flags.url, flags.endpoint), model: options.model }
      : await clusterTarget(cluster, flags.inventory, flags.endpoint);
  // Messages besides the result go to stderr under --json, so stdout stays one JSON document.
  const say = (line: string) => (flags.json ? console.error(line) : console.log(line));

  const stop = new AbortController();
  const onSigint = () => stop.abort();
  process.once('SIGINT', onSigint);
  const showProgress = flags.progress && !flags.disableTqdm && !flags.json && process.stderr.isTTY === true;
  const bar = showProgress ? createLogUpdate(process.stderr) : undefined;
  try {
    const report = await runBench({
      ...options,
      url: target.url,
      clusterProxy: target.cluster !== undefined,
      ...(target.model !== undefined ? { model: target.model } : {}),
      signal: stop.signal,
      onStart: ({ url, model }) => {
        if (flags.json) return;
        say(`benchmarking ${url}${target.cluster ? ` (cluster ${target.cluster})` : ''}, model ${model}`);
        say(
          formatPreamble({
            request_rate: options.requestRate === Infinity ? 'inf' : options.requestRate!,
            burstiness: options.burstiness === Infinity ? 'inf' : options.burstiness!,
            max_concurrency: options.maxConcurrency ?? null,
          }),
        );
      },
      ...(bar ? { onProgress: (p) => bar(progressLine(p)) } : {}),
    });
    bar?.clear();
    bar?.done();
    const { result } = report;
    if (flags.json) console.log(JSON.stringify(result, null, 2));
    else console.log(formatReport(result));
    if (flags.saveResult || flags.resultFilename) say(`result: ${writeResultFile(flags, result)}`);
    if (plot) {
      const rate = result.request_rate === 'inf' ? 'rate inf' : `${result.request_rate} req/s`;
      const title = `deploy bench · ${result.model_id} · ${rate} · ${result.completed} requests`;
      fs.writeFileSync(plot.file, await renderPlot(plotSpec(report.requests, title), plot.format));
      say(`plot: ${plot.file}`);
    }
    if (result.interrupted) {
      console.error('interrupted: the report covers what was sent before Ctrl-C (aborted requests failed)');
      return 130;
    }
    if (result.completed === 0) {
      const causes = Object.entries(result.failure_causes).map(([cause, n]) => `${cause} ×${n}`);
      throw new Error(
        result.failed === 0
          ? 'no request was sent'
          : `all ${result.failed} requests failed: ${causes.join(', ')}`,
      );
    }
    return 0;
  } finally {
    bar?.clear();
    bar?.done(); // the cursor back
    process.off('SIGINT', onSigint);
  }
}
