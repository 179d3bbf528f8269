import { performance } from 'node:perf_hooks';
import { latencySummary } from './stats';
import { checkLoadTarget } from './target';
import type { LoadOptions, LoadReport, Sample } from './types';

export const MAX_REQUESTS = 100_000;
export const MAX_CONCURRENCY = 256;
export const MAX_TIMEOUT_MS = 10 * 60_000;
export const MAX_DURATION_MS = 60 * 60_000;

function bounded(value: number | undefined, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new Error(`load generator: ${name} must be an integer from 1 to ${max}, not ${value}`);
  return value;
}

/** The OpenAI body for the URL's endpoint: chat messages or a plain prompt. */
function requestBody(url: URL, o: LoadOptions): string {
  const prompt = o.prompt ?? 'hello';
  const common = { model: o.model, max_tokens: o.maxTokens ?? 16, stream: o.stream ?? false };
  return JSON.stringify(
    url.pathname.endsWith('/chat/completions')
      ? { ...common, messages: [{ role: 'user', content: prompt }] }
      : { ...common, prompt },
  );
}

/** Connection failures before any answer: the request may be sent again on a new connection. */
const BROKEN_CONNECTION = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'ECONNRESET', 'EPIPE']);
/** Resends of a request whose connection broke before an answer (OpenAI's clients: max_retries 2). */
const BROKEN_CONNECTION_RESENDS = 2;

/**
 * A short, stable name for a request that got no complete answer: `timeout`, `aborted`, the
 * socket's code when there is one, else what undici's own refusal says (a port fetch forbids, a
 * malformed answer), else the error's name. `deploy bench` counts its failures by the same names.
 */
export function failureCause(e: unknown): string {
  const err = e as { name?: unknown; cause?: { code?: unknown; message?: unknown; name?: unknown } } | null;
  if (err?.name === 'TimeoutError') return 'timeout';
  if (err?.name === 'AbortError') return 'aborted';
  if (typeof err?.cause?.code === 'string') return err.cause.code;
  if (typeof err?.cause?.message === 'string' && err.cause.message !== '') return err.cause.message;
  if (typeof err?.cause?.name === 'string') return err.cause.name;
  return typeof err?.name === 'string' ? err.name : 'error';
}

/**
 * A bounded load of completions against one URL with Node's fetch: `concurrency` workers, each
 * sending its next request when the previous one ended, until `requests` were sent or
 * `durationMs` passed. Every request has its own timeout; redirects are not followed (they could
 * lead off the allowed addresses). Refuses any host but loopback and the simulated cluster.
 */
export async function runLoad(o: LoadOptions): Promise<LoadReport> {
  const url = checkLoadTarget(o.url);
  const concurrency = bounded(o.concurrency, 'concurrency', MAX_CONCURRENCY)!;
  const timeoutMs = bounded(o.timeoutMs, 'timeoutMs', MAX_TIMEOUT_MS)!;
  const durationMs = bounded(o.durationMs, 'durationMs', MAX_DURATION_MS);
  const requests = bounded(o.requests, 'requests', MAX_REQUESTS) ?? (durationMs ? MAX_REQUESTS : undefined);
  if (requests === undefined) throw new Error('load generator: give requests, durationMs or both');
  const pauseMs = o.pauseMs ?? 0;
  if (!(pauseMs >= 0 && pauseMs <= 60_000))
    throw new Error(`load generator: pauseMs ${pauseMs} is not 0..60000`);
  const body = requestBody(url, o);

  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  const report: LoadReport = {
    sent: 0,
    retried: 0,
    ok: 0,
    failed: 0,
    byStatus: {},
    errors: {},
    latencyMs: latencySummary([]),
    elapsedMs: 0,
    startedAt,
    ...(o.keepSamples ? { samples: [] } : {}),
  };
  const latencies: number[] = [];
  let callbackFailed: { error: unknown } | undefined;
  const more = () =>
    report.sent < requests &&
    !o.signal?.aborted &&
    callbackFailed === undefined &&
    (durationMs === undefined || now() < durationMs);

  async function one(index: number): Promise<Sample> {
    const startMs = now();
    const signal = o.signal
      ? AbortSignal.any([o.signal, AbortSignal.timeout(timeoutMs)])
      : AbortSignal.timeout(timeoutMs);
    let status: number | undefined;
    let error: string | undefined;
    for (let attempt = 1; ; attempt++) {
      status = undefined;
      error = undefined;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body,
          redirect: 'manual',
          signal,
        });
        status = res.status;
        await res.arrayBuffer();
      } catch (e) {
        error = failureCause(e);
      }
      const broken = status === undefined && error !== undefined && BROKEN_CONNECTION.has(error);
      if (!(broken && o.retryBrokenConnections && attempt <= BROKEN_CONNECTION_RESENDS && !signal.aborted))
        break;
      report.retried++;
    }
    const endMs = now();
    const ok = error === undefined && status !== undefined && status >= 200 && status < 300;
    return {
      index,
      startMs,
      endMs,
      latencyMs: endMs - startMs,
      ok,
      ...(status !== undefined ? { status } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }

  function record(s: Sample): void {
    if (s.ok) {
      report.ok++;
      latencies.push(s.latencyMs);
    } else report.failed++;
    if (s.status !== undefined) report.byStatus[s.status] = (report.byStatus[s.status] ?? 0) + 1;
    if (s.error !== undefined) report.errors[s.error] = (report.errors[s.error] ?? 0) + 1;
    report.samples?.push(s);
    try {
      o.onSample?.(s);
    } catch (error) {
      // Ends the run (workers start nothing new) and is thrown once the requests in flight ended.
      callbackFailed ??= { error };
    }
  }

  async function worker(): Promise<void> {
    while (more()) {
      const sample = await one(report.sent++);
      record(sample);
      if (pauseMs > 0 && more()) await new Promise((r) => setTimeout(r, pauseMs));
    }
  }

  await Promise.all(Array.from({ length: Math.min(concurrency, requests) }, worker));
  if (callbackFailed) throw callbackFailed.error;
  report.elapsedMs = now();
  report.latencyMs = latencySummary(latencies);
  report.samples?.sort((a, b) => a.index - b.index);
  return report;
}
