import * as fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { checkLoadTarget, failureCause, MAX_CONCURRENCY } from '../loadgen';
import { arrivalSchedule, openArrivals } from './arrivals';
import { jsonlDataset, randomDataset, type Dataset } from './dataset';
import { BenchMetrics, type RequestOutcome } from './metrics';
import { checkOptions, type BenchOptions, type CheckedOptions } from './options';
import { sendRequest } from './request';
import { buildResult, detailedArrays, type BenchResult } from './result';

export interface BenchReport {
  /** The numbers, as `vllm bench serve --save-result` writes them (see result.ts). */
  result: BenchResult;
  /** Every request sent, by index (inter-token gaps kept only with `keepItls`). */
  requests: RequestOutcome[];
}

/** The loop's guard, with this command's name in its refusal instead of the load generator's. */
export function checkBenchTarget(raw: string): URL {
  try {
    return checkLoadTarget(raw);
  } catch (e) {
    throw new Error((e as Error).message.replace(/^load generator: /, ''));
  }
}

/** `…/v1/completions` → `…/v1/models`, where vLLM asks for the served model. */
export function modelsUrl(url: URL): URL {
  return new URL(url.pathname.replace(/(chat\/)?completions\/?$/, 'models'), url);
}

/**
 * Whether anything answers at the endpoint, and the model to ask for: vLLM's first model of
 * /v1/models when none is given. Any HTTP answer proves the endpoint alive; only a missing model
 * needs a good one. Sends no completion, so the engines' own latency histograms see only the run.
 */
export async function probeEndpoint(
  url: URL,
  model: string | undefined,
  signal?: AbortSignal,
): Promise<string> {
  const models = modelsUrl(url);
  let res: Response;
  try {
    res = await fetch(models, {
      redirect: 'manual',
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(10_000)]) : AbortSignal.timeout(10_000),
    });
  } catch (e) {
    throw new Error(`no answer from ${url.origin} (${failureCause(e)})`);
  }
  const body = (await res.json().catch(() => undefined)) as { data?: { id?: unknown }[] } | undefined;
  if (model !== undefined) return model;
  const first = body?.data?.[0]?.id;
  if (res.status !== 200 || typeof first !== 'string')
    throw new Error(`${models} named no model (HTTP ${res.status}); pass --model`);
  return first;
}

function loadDataset(o: CheckedOptions): Dataset {
  if (o.datasetName === 'random') {
    return randomDataset({
      inputLen: o.randomInputLen,
      outputLen: o.randomOutputLen,
      rangeRatio: o.randomRangeRatio,
      seed: o.seed,
    });
  }
  let text: string;
  try {
    text = fs.readFileSync(o.datasetPath!, 'utf8');
  } catch (e) {
    throw new Error(`cannot read --dataset-path ${o.datasetPath}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  return jsonlDataset(text, o.datasetPath!, o.randomOutputLen);
}

/** Slots for requests in flight; waiting for one ends early (false) when the run stops. */
class Slots {
  private free: number;
  private readonly waiting: ((ok: boolean) => void)[] = [];

  constructor(size: number, signal: AbortSignal) {
    this.free = size;
    signal.addEventListener('abort', () => this.waiting.splice(0).forEach((wake) => wake(false)), {
      once: true,
    });
  }

  acquire(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return Promise.resolve(false);
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  release(): void {
    const next = this.waiting.shift();
    if (next) next(true);
    else this.free++;
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0 || signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A serving benchmark against one completions endpoint, as `vllm bench serve` runs it: requests
 * arrive by the arrival process (all at once at rate inf), wait for a slot under
 * `--max-concurrency`, stream their answer, and are measured as they end. The run ends after
 * `numPrompts` requests, or when `durationMs` has passed (requests not started by then are not
 * sent; those in flight finish). Never more than 256 requests in flight; the URL must be loopback
 * or the simulated cluster.
 */
export async function runBench(options: BenchOptions): Promise<BenchReport> {
  const o = checkOptions(options);
  const url = o.clusterProxy ? new URL(o.url) : checkBenchTarget(o.url);
  const chat = /\/chat\/completions\/?$/.test(url.pathname);
  if (!chat && !/\/completions\/?$/.test(url.pathname))
    throw new Error(`${url.href} is not a completions endpoint (…/v1/completions or …/v1/chat/completions)`);
  const dataset = loadDataset(o);
  const model = await probeEndpoint(url, o.model, o.signal);
  o.onStart?.({ url: url.href, model });

  const stop = new AbortController();
  const onAbort = () => stop.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  const slots = new Slots(Math.min(o.maxConcurrency ?? MAX_CONCURRENCY, MAX_CONCURRENCY), stop.signal);
  const metrics = new BenchMetrics(o.goodput);
  const requests: RequestOutcome[] = [];
  const inFlight = new Set<Promise<void>>();
  const counts = { sent: 0, done: 0, failed: 0 };
  const traffic = { rate: o.requestRate, burstiness: o.burstiness };
  const arrivals =
    o.durationMs === undefined
      ? arrivalSchedule(o.numPrompts, traffic, o.seed)[Symbol.iterator]()
      : openArrivals(traffic, o.seed);

  const startedAt = new Date();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const pastDeadline = () => o.durationMs !== undefined && now() >= o.durationMs;
  const progress = () =>
    o.onProgress?.({
      ...counts,
      total: o.numPrompts,
      elapsedMs: now(),
      ...(o.durationMs !== undefined ? { durationMs: o.durationMs } : {}),
    });
  const ticker = o.onProgress ? setInterval(progress, 100) : undefined;

  async function one(index: number, arrivalMs: number, holdsSlot: boolean): Promise<void> {
    if (!holdsSlot && !(await slots.acquire(stop.signal))) return;
    try {
      if (pastDeadline() || stop.signal.aborted) return;
      const queueMs = now() - arrivalMs;
      counts.sent++;
      const sent = await sendRequest({
        url,
        chat,
        model,
        request: dataset.request(index),
        ignoreEos: dataset.name === 'random',
        signal: AbortSignal.any([stop.signal, AbortSignal.timeout(o.timeoutMs)]),
        now,
      });
      const outcome: RequestOutcome = { index, queueMs, ...sent };
      metrics.add(outcome);
      counts.done++;
      if (!outcome.ok) counts.failed++;
      requests.push(o.keepItls ? outcome : { ...outcome, itlsMs: [] });
    } finally {
      slots.release();
    }
  }

  try {
    for (let index = 0; index < o.numPrompts; index++) {
      const arrivalMs = arrivals.next().value!;
      if (o.durationMs !== undefined && arrivalMs >= o.durationMs) break;
      await sleep(arrivalMs - now(), stop.signal);
      // At rate inf the loop itself waits for a slot: a closed loop of maxConcurrency clients,
      // rather than numPrompts requests queued at once.
      const holdsSlot = o.requestRate === Infinity && (await slots.acquire(stop.signal));
      if (stop.signal.aborted || pastDeadline()) {
        if (holdsSlot) slots.release();
        break;
      }
      const task = one(index, arrivalMs, holdsSlot).finally(() => inFlight.delete(task));
      inFlight.add(task);
    }
    while (inFlight.size > 0) await Promise.all(inFlight);
  } finally {
    if (ticker) clearInterval(ticker);
    o.signal?.removeEventListener('abort', onAbort);
  }
  const durationS = now() / 1000;
  progress();

  requests.sort((a, b) => a.index - b.index);
  const result = buildResult(
    {
      url: url.href,
      backend: chat ? 'openai-chat' : 'openai',
      model,
      datasetName: dataset.name,
      numPrompts: options.numPrompts ?? (o.durationMs === undefined ? o.numPrompts : null),
      durationLimitS: o.durationMs === undefined ? null : o.durationMs / 1000,
      requestRate: o.requestRate,
      burstiness: o.burstiness,
      maxConcurrency: o.maxConcurrency ?? null,
      seed: o.seed,
      percentileMetrics: o.percentileMetrics,
      metricPercentiles: o.metricPercentiles,
      goodput: o.goodput,
    },
    metrics.summary(durationS, o.metricPercentiles),
    durationS,
    startedAt,
  );
  if (o.signal?.aborted) result.interrupted = true;
  if (o.keepItls) Object.assign(result, detailedArrays(requests));
  return { result, requests };
}
