import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { runBench, type BenchResult } from '../../src/bench';
import { runDeploy } from '../helpers/cli';
import { freePort } from '../helpers/ports';
import { startTestServer } from '../helpers/temporal';

/**
 * `deploy bench` against an in-process OpenAI-style streaming server whose timing is known:
 * runBench's measurements, its concurrency bound and stop, then the real CLI (bin/deploy) for the
 * output formats, the result file, the plot and its one-line errors.
 */

const TTFT_MS = 120;
const ITL_MS = 25;

interface Seen {
  path: string;
  body: Record<string, unknown>;
  /** The server's own times, ms from receiving the request to writing its first and last token. */
  firstTokenMs?: number;
  lastTokenMs?: number;
}

/**
 * Streams one chunk per token as the simulated engine does (the first carries a summary text),
 * then the usage chunk and [DONE]. The path's first part picks the behaviour: `slow` (TTFT_MS to
 * the first token, ITL_MS between tokens), `fast`, `nousage` (no usage chunk), `fail` (HTTP 500).
 */
class FakeEngine {
  readonly seen: Seen[] = [];
  active = 0;
  peak = 0;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));
  base = '';

  async start(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): void {
    this.server.closeAllConnections();
    this.server.close();
  }

  reset(): void {
    this.seen.length = 0;
    this.peak = this.active;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET' && req.url!.endsWith('/v1/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: 'fake-model', root: 'fake-model' }] }));
      return;
    }
    const received = performance.now();
    let raw = '';
    for await (const chunk of req) raw += String(chunk);
    const seen: Seen = { path: req.url!, body: JSON.parse(raw) as Record<string, unknown> };
    const body = seen.body;
    this.seen.push(seen);
    const mode = req.url!.split('/')[1];
    if (mode === 'fail') {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end('{"error":"boom"}');
      return;
    }
    const chat = req.url!.endsWith('/chat/completions');
    const tokens = Number(body.max_tokens ?? body.max_completion_tokens);
    const prompt = chat ? (body.messages as { content: string }[])[0]!.content : (body.prompt as string);
    const pause = (ms: number) =>
      mode === 'slow' ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    res.on('close', () => this.active--);
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    const send = (v: unknown) => res.write(`data: ${JSON.stringify(v)}\n\n`);
    await pause(TTFT_MS);
    for (let i = 0; i < tokens; i++) {
      if (i > 0) await pause(ITL_MS);
      const text = i === 0 ? ' [fake engine summary]' : ` tok${i}`;
      send({
        object: 'text_completion',
        choices: [chat ? { index: 0, delta: { content: text } } : { index: 0, text }],
      });
      seen.lastTokenMs = performance.now() - received;
      seen.firstTokenMs ??= seen.lastTokenMs;
    }
    if (mode !== 'nousage') {
      const promptTokens = prompt.trim().split(/\s+/).length;
      send({ choices: [], usage: { prompt_tokens: promptTokens, completion_tokens: tokens } });
    }
    res.end('data: [DONE]\n\n');
  }
}

const engine = new FakeEngine();
before(() => engine.start());
after(() => engine.stop());

describe('runBench against a streaming server', () => {
  it('measures TTFT, TPOT, ITL and E2EL as the server paced them, never above --max-concurrency', async () => {
    engine.reset();
    const { result, requests } = await runBench({
      url: `${engine.base}/slow/v1/completions`,
      numPrompts: 9,
      maxConcurrency: 3,
      randomInputLen: 12,
      randomOutputLen: 6,
    });
    assert.equal(result.model_id, 'fake-model', "the first model of /v1/models, as vLLM's");
    assert.equal(result.completed, 9);
    assert.equal(result.failed, 0);
    assert.equal(engine.peak, 3, 'the server saw at most (and at some point exactly) 3 requests at once');
    assert.equal(result.max_concurrent_requests, 3);
    assert.equal(result.total_input_tokens, 9 * 12);
    assert.equal(result.total_output_tokens, 9 * 6);
    // What the server did, by its own clock: its timers fire late on a busy machine, never early.
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const serverTtft = mean(engine.seen.map((s) => s.firstTokenMs!));
    const serverE2el = mean(engine.seen.map((s) => s.lastTokenMs!));
    const serverTpot = mean(engine.seen.map((s) => (s.lastTokenMs! - s.firstTokenMs!) / 5));
    assert.ok(serverTtft >= TTFT_MS - 1 && serverTpot >= ITL_MS - 1, `server ${serverTtft}, ${serverTpot}`);
    const near = (key: string, server: number, slackMs: number) => {
      const v = result[key] as number;
      const seen = requests.map((r) => `${r.ttftMs.toFixed(0)}/${r.latencyMs.toFixed(0)}`);
      assert.ok(
        v >= server - 2 && v <= server * 1.1 + slackMs,
        `${key} ${v} against the server's ${server} (ttft/e2el: ${seen.join(' ')})`,
      );
    };
    // The client sees each token once it crossed loopback: a little after the server wrote it.
    near('mean_ttft_ms', serverTtft, 40);
    near('mean_e2el_ms', serverE2el, 40);
    near('mean_tpot_ms', serverTpot, 10);
    near('median_itl_ms', serverTpot, 10);
    for (const r of requests) {
      assert.equal(r.outputLen, 6);
      assert.equal(r.itlsMs.length, 0, 'gaps are kept only when asked');
    }
    const body = engine.seen[0]!.body;
    assert.equal(body.model, 'fake-model');
    assert.equal(body.max_tokens, 6);
    assert.equal(body.ignore_eos, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
    assert.equal((body.prompt as string).split(' ').length, 12);
  });

  it('paces arrivals at a rate, queues them for a slot, and keeps the gaps when asked', async () => {
    engine.reset();
    const { result, requests } = await runBench({
      url: `${engine.base}/slow/v1/completions`,
      model: 'fake-model',
      numPrompts: 8,
      requestRate: 100,
      maxConcurrency: 2,
      randomInputLen: 4,
      randomOutputLen: 3,
      keepItls: true,
    });
    assert.equal(result.completed, 8);
    assert.ok(engine.peak <= 2, `peak ${engine.peak}`);
    assert.equal(result.request_rate, 100);
    assert.ok(
      requests.some((r) => r.queueMs > 50),
      'at 100 req/s against two slots of ~170 ms requests waited',
    );
    assert.ok(requests.every((r) => r.itlsMs.length === 2));
    assert.equal((result.itls as number[][]).length, 8, "vLLM's per-request arrays");
  });

  it('a --duration run stops starting requests when the time is up', async () => {
    const { result } = await runBench({
      url: `${engine.base}/fast/v1/completions`,
      model: 'fake-model',
      durationMs: 600,
      requestRate: 40,
      randomInputLen: 4,
      randomOutputLen: 2,
    });
    assert.equal(result.num_prompts, null);
    assert.equal(result.duration_limit_s, 0.6);
    assert.ok(
      result.completed >= 8 && result.completed <= 50,
      `${result.completed} requests in 0.6 s at 40/s`,
    );
    assert.equal(result.failed, 0);
    assert.ok(result.duration >= 0.5 && result.duration < 3, `${result.duration} s`);
  });

  it('chat completions; tokens counted from the chunks when no usage comes', async () => {
    engine.reset();
    const chat = await runBench({
      url: `${engine.base}/fast/v1/chat/completions`,
      numPrompts: 3,
      randomInputLen: 5,
      randomOutputLen: 4,
    });
    assert.equal(chat.result.backend, 'openai-chat');
    assert.equal(chat.result.total_output_tokens, 12);
    assert.equal(engine.seen[0]!.body.max_completion_tokens, 4);
    const counted = await runBench({
      url: `${engine.base}/nousage/v1/completions`,
      numPrompts: 2,
      randomInputLen: 5,
      randomOutputLen: 7,
    });
    assert.equal(counted.result.total_output_tokens, 14);
    assert.equal(counted.result.total_input_tokens, 10, 'the words sent, without usage');
  });

  it('sends the prompts of a JSONL file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-jsonl-'));
    try {
      const file = path.join(dir, 'prompts.jsonl');
      fs.writeFileSync(file, '{"prompt": "alpha beta", "output_len": 2}\n{"prompt": "gamma"}\n');
      engine.reset();
      const { result } = await runBench({
        url: `${engine.base}/fast/v1/completions`,
        numPrompts: 3,
        maxConcurrency: 1,
        datasetName: 'jsonl',
        datasetPath: file,
        randomOutputLen: 5,
      });
      assert.deepEqual(
        engine.seen.map((s) => [s.body.prompt, s.body.max_tokens, s.body.ignore_eos]),
        [
          ['alpha beta', 2, undefined],
          ['gamma', 5, undefined],
          ['alpha beta', 2, undefined],
        ],
      );
      assert.equal(result.total_output_tokens, 9);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('counts failed requests by cause; a stop aborts those in flight and says so', async () => {
    const failed = await runBench({ url: `${engine.base}/fail/v1/completions`, model: 'm', numPrompts: 4 });
    assert.equal(failed.result.completed, 0);
    assert.deepEqual(failed.result.failure_causes, { 'HTTP 500': 4 });

    const stop = new AbortController();
    setTimeout(() => stop.abort(), 300);
    const started = Date.now();
    const stopped = await runBench({
      url: `${engine.base}/slow/v1/completions`,
      model: 'm',
      numPrompts: 100,
      maxConcurrency: 2,
      randomInputLen: 2,
      randomOutputLen: 50, // ~1.4 s each
      signal: stop.signal,
    });
    assert.ok(Date.now() - started < 3000, 'ended soon after the stop');
    assert.equal(stopped.result.interrupted, true);
    assert.deepEqual(stopped.result.failure_causes, { aborted: 2 });
    assert.equal(stopped.requests.length, 2, 'nothing new was sent');
  });

  it('refuses targets off loopback and the simulated cluster, and endpoints that are not completions', async () => {
    await assert.rejects(runBench({ url: 'http://192.0.2.1/v1/completions' }), /refusing 192\.0\.2\.1/);
    await assert.rejects(runBench({ url: `${engine.base}/v1/embeddings` }), /not a completions endpoint/);
    await assert.rejects(
      runBench({ url: `http://127.0.0.1:${await freePort()}/v1/completions` }),
      /no answer from http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    );
  });
});

describe('deploy bench (the CLI)', () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cli-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const small = ['--num-prompts', '6', '--random-input-len', '8', '--random-output-len', '3'];

  it("--json prints vLLM's result keys; --save-result writes them; the report has vLLM's headings", async () => {
    const file = path.join(dir, 'result.json');
    const r = await runDeploy([
      'bench',
      '--url',
      engine.base,
      '--endpoint',
      '/v1/completions',
      ...small,
      '--json',
      '--save-result',
      '--result-filename',
      file,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout) as BenchResult;
    assert.equal(printed.completed, 6);
    assert.equal(printed.url, `${engine.base}/v1/completions`);
    assert.match(r.stderr, /^result: .*result\.json$/m);
    const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as BenchResult;
    for (const key of [
      'duration',
      'completed',
      'request_throughput',
      'mean_ttft_ms',
      'p99_tpot_ms',
      'median_e2el_ms',
    ])
      assert.equal(typeof saved[key], 'number', key);

    const text = await runDeploy(['bench', '--url', `${engine.base}/fast/v1/completions`, ...small]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /^============ Serving Benchmark Result ============$/m);
    assert.match(text.stdout, /^Successful requests: +6$/m);
    assert.match(text.stdout, /^---------------Time to First Token----------------$/m);
    assert.match(text.stdout, /^P99 TTFT \(ms\): +\d+\.\d\d$/m);
    assert.equal(text.stderr, '', 'no progress bar off a terminal');
  });

  it('--plot draws an SVG (and a PNG) with both axis titles', async () => {
    const svg = path.join(dir, 'latency.svg');
    const png = path.join(dir, 'latency.png');
    for (const file of [svg, png]) {
      const r = await runDeploy([
        'bench',
        '--url',
        `${engine.base}/fast/v1/completions`,
        ...small,
        '--request-rate',
        '200',
        '--plot',
        file,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^plot: ${file}$`, 'm'));
    }
    const text = fs.readFileSync(svg, 'utf8');
    assert.match(text, /^<svg /);
    for (const title of ['request start (s)', 'latency (ms)', 'fraction of requests', 'Latency over time'])
      assert.ok(text.includes(title), `the SVG names ${title}`);
    assert.ok(text.length > 5_000 && text.length < 2_000_000, `SVG of ${text.length} bytes`);
    const image = fs.readFileSync(png);
    assert.deepEqual([...image.subarray(1, 4)], [...Buffer.from('PNG')]);
    assert.ok(image.length > 10_000, `PNG of ${image.length} bytes`);
  });

  it('bad input: one line on stderr, exit 1, no stack trace, nothing on stdout', async () => {
    const temporal = await startTestServer();
    try {
      const nobody = `http://127.0.0.1:${await freePort()}`;
      const url = ['--url', `${engine.base}/fast/v1/completions`];
      const cases: [string[], RegExp][] = [
        [[...url, '--request-rate', '5000'], /--request-rate must be above 0 and at most 1000/],
        [
          [...url, '--max-concurrency', '300'],
          /--max-concurrency must be a whole number from 1 to 256, not 300/,
        ],
        [[...url, '--duration', '2h'], /--duration must be above 0 and at most 60 min/],
        [[...url, '--num-prompts', '200000'], /--num-prompts must be a whole number from 1 to 100000/],
        [[...url, '--plot', 'x.jpg'], /must end in \.svg or \.png/],
        [['--url', 'http://192.0.2.1:8000'], /refusing 192\.0\.2\.1/],
        [['--url', nobody], /no answer from http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/],
        [['no-such-cluster'], /no cluster named no-such-cluster/],
      ];
      for (const [args, message] of cases) {
        const r = await runDeploy(['bench', ...args], { TEMPORAL_ADDRESS: temporal.address });
        const what = `deploy bench ${args.join(' ')}`;
        assert.equal(r.code, 1, `${what}: ${r.stdout}${r.stderr}`);
        assert.match(r.stderr, message, what);
        assert.match(r.stderr, /^error: [^\n]*\n$/, `${what}: one line, ${r.stderr}`);
        assert.equal(r.stdout, '', what);
      }
    } finally {
      await temporal.teardown();
    }
  });
});
