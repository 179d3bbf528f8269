export interface LoadOptions {
  /** A completions URL (`…/v1/completions` or `…/v1/chat/completions`); loopback or the sim range. */
  url: string;
  model: string;
  /** Requests to send (at most 100 000). Required unless `durationMs` is set, then an upper bound. */
  requests?: number;
  /** Time mode: keep starting requests until this many ms have passed (at most 1 h). */
  durationMs?: number;
  /** Requests in flight at once (at most 256). */
  concurrency: number;
  /** Per request, body included (at most 10 min). */
  timeoutMs: number;
  /** Default `"hello"`. */
  prompt?: string;
  stream?: boolean;
  /** Default 16. */
  maxTokens?: number;
  /** Each worker waits this long between two of its requests: paces a long time-based run. */
  pauseMs?: number;
  /** Keep every sample in the report. */
  keepSamples?: boolean;
  /**
   * Called as each request ends, in completion order: a test can inject faults from here. A throw
   * ends the run and is rethrown by runLoad once the requests in flight have ended.
   */
  onSample?: (sample: Sample) => void;
  /** Stops the run: no new requests, those in flight are aborted and counted as `aborted`. */
  signal?: AbortSignal;
  /**
   * Send a request again, at most twice (OpenAI's client libraries' default `max_retries`), when
   * its connection broke before any answer arrived: a pooled keep-alive connection the proxy
   * closed as the request went out (nginx closes idle ones on a graceful reload). One resend was
   * not enough: the resend can take the pool's other connection, closed by the same reload.
   * Counted in `retried`, never hidden.
   */
  retryBrokenConnections?: boolean;
}

/** One request. Times are ms since the run's start (monotonic clock). */
export interface Sample {
  /** Order in which requests were started, from 0. */
  index: number;
  startMs: number;
  endMs: number;
  latencyMs: number;
  /** A 2xx status and the whole body read. */
  ok: boolean;
  /** HTTP status, when one arrived. */
  status?: number;
  /** Why no (complete) answer arrived: `timeout`, `aborted`, `ECONNREFUSED`, `UND_ERR_SOCKET`… */
  error?: string;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface LoadReport {
  /** Requests sent a second time after their connection broke before an answer (see retryBrokenConnections). */
  retried: number;
  sent: number;
  ok: number;
  failed: number;
  /** Requests per HTTP status (as a string), whether ok or not. */
  byStatus: Record<string, number>;
  /** Requests without a complete answer, per `Sample.error`. */
  errors: Record<string, number>;
  /** Latency of the successful requests, ms. */
  latencyMs: LatencySummary;
  elapsedMs: number;
  /** Wall-clock start, ISO 8601. */
  startedAt: string;
  samples?: Sample[];
}
