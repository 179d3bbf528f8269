import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  nginxCommands,
  PROXY_STATUS_PATH,
  proxyConfigHash,
  renderProxyConfig,
  type ProxyConfigSpec,
} from '../../src/plan/proxy';
import { failureWindow, runLoad } from '../../src/loadgen';
import { readProxyStatus } from '../../src/top/proxyLoad';
import { freePort } from '../helpers/ports';
import { waitFor } from '../helpers/waitFor';

/**
 * The generated proxy on the real Debian nginx + njs 0.7.9, in front of fake engines on
 * loopback addresses: two prefill servers answering with kv_transfer_params and two decode
 * servers that insist on them and stream slowly.
 */

const NGINX = '/usr/sbin/nginx';
const CHUNK_DELAY_MS = 250;
const CHUNKS = 4;
/** How long a fake decode server takes for a non-streamed answer (load tests keep some in flight). */
let decodeDelayMs = 0;

interface Recorded {
  server: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** performance.now() when the request arrived. */
  at: number;
}

type Handler = (req: Recorded, res: http.ServerResponse) => void;

interface Fake {
  name: string;
  server: http.Server;
  host: string;
  port: number;
  address: string;
  handle: Handler;
  /** Traffic other than /health (the proxy's probes are counted in `probes`). */
  requests: Recorded[];
  /** How its /health answers: 200, 503, or never (accepts and stays silent). */
  health: 'ok' | 'error' | 'hang';
  probes: number;
}

function serve(f: Fake): http.Server {
  return http.createServer((req, res) => {
    if (req.url === '/health') {
      f.probes++;
      if (f.health === 'hang') return;
      res.writeHead(f.health === 'ok' ? 200 : 503);
      return res.end();
    }
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const rec = {
        server: f.name,
        method: req.method!,
        url: req.url!,
        headers: req.headers,
        body,
        at: performance.now(),
      };
      f.requests.push(rec);
      f.handle(rec, res);
    });
  });
}

async function listen(f: Fake, port: number): Promise<void> {
  f.server = serve(f);
  await new Promise<void>((resolve) => f.server.listen(port, f.host, resolve));
  f.port = (f.server.address() as AddressInfo).port;
  f.address = `${f.host}:${f.port}`;
}

async function startFake(name: string, host: string, handle: Handler): Promise<Fake> {
  const f = { name, host, handle, requests: [], health: 'ok', probes: 0 } as unknown as Fake;
  await listen(f, 0);
  return f;
}

/** The engine dies: its connections are cut (requests in flight included) and its port refuses. */
async function kill(f: Fake): Promise<void> {
  f.server.closeAllConnections();
  await new Promise((r) => f.server.close(r));
}

/** The engine is back on the same address. */
async function revive(f: Fake): Promise<void> {
  await listen(f, f.port);
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': 'upstream-own-id' });
  res.end(JSON.stringify(value));
}

function prefillHandler(name: string) {
  return (req: Recorded, res: http.ServerResponse) => {
    if (req.url === '/v1/models')
      return json(res, 200, { object: 'list', data: [{ id: 'deepseek', owned_by: name }] });
    const body = JSON.parse(req.body) as { model?: string; prefill_ms?: number };
    if (body.model === 'no-such-model') {
      return json(res, 404, { error: { message: 'The model `no-such-model` does not exist.', code: 404 } });
    }
    // `prefill_ms` in the request: a long prompt that keeps this server busy that long.
    setTimeout(
      () =>
        res.destroyed ||
        json(res, 200, {
          id: `cmpl-${name}`,
          choices: [{ index: 0, text: 'x', finish_reason: 'length' }],
          kv_transfer_params: {
            remote_engine_id: name,
            remote_block_ids: [1, 2, 3],
            do_remote_decode: false,
          },
        }),
      body.prefill_ms ?? 0,
    );
  };
}

function decodeHandler(name: string) {
  return (req: Recorded, res: http.ServerResponse) => {
    const body = JSON.parse(req.body) as {
      stream?: boolean;
      kv_transfer_params?: unknown;
      decode_ms?: number;
    };
    if (body.kv_transfer_params === undefined)
      return json(res, 400, { error: { message: 'kv_transfer_params missing' } });
    if (!body.stream) {
      const answer = () =>
        // A killed fake has already cut this connection: nothing to answer.
        res.destroyed ||
        json(res, 200, {
          id: `cmpl-${name}`,
          choices: [{ index: 0, text: 'decoded', finish_reason: 'stop' }],
        });
      const delay = body.decode_ms ?? decodeDelayMs;
      if (delay > 0) return void setTimeout(answer, delay);
      return answer();
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream' });
    let n = 0;
    const tick = () => {
      if (n === CHUNKS) return res.end('data: [DONE]\n\n');
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, text: `t${n}` }] })}\n\n`);
      n++;
      setTimeout(tick, CHUNK_DELAY_MS);
    };
    tick();
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Milliseconds since the request was sent, for each piece of body that arrived. */
  arrivals: { at: number; text: string }[];
}

function request(
  port: number,
  method: string,
  urlPath: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const sent = Date.now();
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: urlPath,
        headers: { 'Content-Type': 'application/json', ...headers },
        agent: false,
      },
      (res) => {
        const arrivals: Reply['arrivals'] = [];
        res.setEncoding('utf8');
        res.on('data', (text: string) => arrivals.push({ at: Date.now() - sent, text }));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            headers: res.headers,
            body: arrivals.map((a) => a.text).join(''),
            arrivals,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

interface Role {
  healthy: Fake[];
  unhealthy?: Fake[];
  drained?: Fake[];
}

/** The /health answer expected for these upstreams. */
function health(status: string, prefill: Role, decode: Role) {
  const a = (fs: Fake[] = []) => fs.map((f) => f.address);
  const role = (r: Role) => ({ healthy: a(r.healthy), unhealthy: a(r.unhealthy), drained: a(r.drained) });
  return { status, prefill: role(prefill), decode: role(decode) };
}

describe('global proxy on real nginx + njs', () => {
  let dir: string;
  let nginx: ChildProcess;
  let port: number;
  let prefill: Fake[];
  let decode: Fake[];
  let spec: ProxyConfigSpec;
  let cmds: ReturnType<typeof nginxCommands>;
  let confPath: string;
  const all = () => [...prefill, ...decode];
  const completionsUrl = () => `http://127.0.0.1:${port}/v1/completions`;
  /** nginx's worker processes now (children of the master). */
  const workers = () =>
    fs.readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').split(' ').filter(Boolean);
  /** Writes a regenerated config, reloads, and waits until the workers of the old one have left. */
  const reloadTo = async (next: ProxyConfigSpec) => {
    const old = workers();
    fs.writeFileSync(confPath, renderProxyConfig(next).nginxConf);
    const reload = spawnSync(cmds.reload[0]!, cmds.reload.slice(1), { encoding: 'utf8' });
    assert.equal(reload.status, 0, reload.stderr);
    const end = Date.now() + 5000;
    while (workers().some((w) => old.includes(w))) {
      assert.ok(Date.now() < end, 'the old workers did not leave');
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const clear = () => all().forEach((f) => (f.requests.length = 0));

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'proxy-nginx-'));
    prefill = [
      await startFake('p0', '127.0.0.11', prefillHandler('p0')),
      await startFake('p1', '127.0.0.12', prefillHandler('p1')),
    ];
    decode = [
      await startFake('d0', '127.0.0.21', decodeHandler('d0')),
      await startFake('d1', '127.0.0.22', decodeHandler('d1')),
    ];
    port = await freePort();
    for (const d of ['logs', 'run']) fs.mkdirSync(path.join(dir, d));
    const njsPath = path.join(dir, 'pd.js');
    spec = {
      listenPort: port,
      listenAddress: '127.0.0.1',
      prefill: prefill.map((f) => f.address),
      decode: decode.map((f) => f.address),
      logDir: path.join(dir, 'logs'),
      runDir: path.join(dir, 'run'),
      njsPath,
      foreground: true,
      workerProcesses: 1,
    };
    const { nginxConf, njs } = renderProxyConfig(spec);
    confPath = path.join(dir, 'nginx.conf');
    fs.writeFileSync(confPath, nginxConf);
    fs.writeFileSync(njsPath, njs);
    cmds = nginxCommands({ binary: NGINX, confPath, prefixDir: dir });
    const t = spawnSync(cmds.test[0]!, cmds.test.slice(1), { encoding: 'utf8' });
    assert.equal(t.status, 0, t.stderr);
    nginx = spawn(cmds.start[0]!, cmds.start.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        if ((await request(port, 'GET', '/health')).status === 200) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > end || nginx.exitCode !== null) throw new Error('nginx did not come up');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(async () => {
    if (nginx?.pid !== undefined && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx.once('exit', r));
      process.kill(nginx.pid, 'SIGQUIT');
      await exited;
    }
    for (const f of all()) {
      f.server.closeAllConnections();
      f.server.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('/health asks every upstream and answers 200 ok when all of them answer', async () => {
    const probes = all().map((f) => f.probes);
    const r = await request(port, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /application\/json/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(r.body), health('ok', { healthy: prefill }, { healthy: decode }));
    assert.deepEqual(
      all().map((f) => f.probes),
      probes.map((n) => n + 1),
      'one probe per upstream and call',
    );
    assert.equal((await request(port, 'POST', '/health', '{}')).status, 405);
    // A probe location is internal: a client cannot aim it anywhere.
    assert.equal((await request(port, 'GET', '/_pd_probe/decode_0')).status, 404);
  });

  it('/health costs a few milliseconds: no cache needed', async (t) => {
    const n = 20;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) assert.equal((await request(port, 'GET', '/health')).status, 200);
    const each = (performance.now() - t0) / n;
    t.diagnostic(`/health with ${all().length} upstreams: ${each.toFixed(1)} ms per call`);
    assert.ok(each < 100, `${each} ms per /health`);
  });

  it('a completion goes to prefill (max_tokens 1, no stream) and then to decode with kv_transfer_params', async () => {
    clear();
    // Spacing and 1.0 show the decode body is the client's own bytes, not a re-serialisation.
    const original =
      '{"model": "deepseek", "prompt": "hi", "max_tokens": 50, "temperature": 1.0, "stream": false, "stream_options": {"include_usage": true}}';
    const r = await request(port, 'POST', '/v1/completions', original);
    assert.equal(r.status, 200, r.body);
    assert.equal((JSON.parse(r.body) as { choices: { text: string }[] }).choices[0]!.text, 'decoded');

    const p = prefill.flatMap((f) => f.requests);
    const d = decode.flatMap((f) => f.requests);
    assert.equal(p.length, 1);
    assert.equal(d.length, 1);
    assert.equal(p[0]!.url, '/v1/completions');
    assert.deepEqual(JSON.parse(p[0]!.body), {
      model: 'deepseek',
      prompt: 'hi',
      max_tokens: 1,
      temperature: 1,
      stream: false,
    });
    assert.equal(d[0]!.url, '/v1/completions');
    const kv = { remote_engine_id: p[0]!.server, remote_block_ids: [1, 2, 3], do_remote_decode: false };
    assert.equal(d[0]!.body, `${original.slice(0, -1)},"kv_transfer_params":${JSON.stringify(kv)}}`);

    const id = r.headers['x-request-id'];
    assert.ok(typeof id === 'string' && id.length >= 16, 'the response carries a request id');
    assert.equal(p[0]!.headers['x-request-id'], id);
    assert.equal(d[0]!.headers['x-request-id'], id);
  });

  it('inserts max_tokens when missing and keeps the client X-Request-Id on both legs and the answer', async () => {
    clear();
    const r = await request(port, 'POST', '/v1/completions', '{"model":"deepseek","prompt":"hi"}', {
      'X-Request-Id': 'client-id-42',
    });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.headers['x-request-id'], 'client-id-42');
    const [p] = prefill.flatMap((f) => f.requests);
    const [d] = decode.flatMap((f) => f.requests);
    assert.equal((JSON.parse(p!.body) as { max_tokens: number }).max_tokens, 1);
    assert.equal(p!.headers['x-request-id'], 'client-id-42');
    assert.equal(d!.headers['x-request-id'], 'client-id-42');
    assert.equal((JSON.parse(d!.body) as { max_tokens?: number }).max_tokens, undefined);
  });

  it('streams a chat completion from decode chunk by chunk, not buffered to the end', async () => {
    clear();
    const body = JSON.stringify({
      model: 'deepseek',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const r = await request(port, 'POST', '/v1/chat/completions', body);
    assert.equal(r.status, 200, r.body);
    assert.match(r.headers['content-type'] ?? '', /text\/event-stream/);
    const events = r.body.split('\n\n').filter(Boolean);
    assert.equal(events.length, CHUNKS + 1);
    assert.equal(events.at(-1), 'data: [DONE]');

    const [p] = prefill.flatMap((f) => f.requests);
    const [d] = decode.flatMap((f) => f.requests);
    assert.equal(p!.url, '/v1/chat/completions');
    const sentToPrefill = JSON.parse(p!.body) as Record<string, unknown>;
    assert.equal(sentToPrefill.stream, false);
    assert.equal(sentToPrefill.max_tokens, 1);
    assert.equal('stream_options' in sentToPrefill, false);
    const sentToDecode = JSON.parse(d!.body) as Record<string, unknown>;
    assert.equal(sentToDecode.stream, true);
    assert.deepEqual(sentToDecode.stream_options, { include_usage: true });
    assert.ok(sentToDecode.kv_transfer_params);

    // The decode server spaces its chunks CHUNK_DELAY_MS apart: a buffering proxy would deliver
    // them all at the end.
    const first = r.arrivals[0]!.at;
    const last = r.arrivals.at(-1)!.at;
    assert.ok(r.arrivals.length >= CHUNKS, `${r.arrivals.length} separate arrivals`);
    assert.ok(last - first >= (CHUNKS - 1) * CHUNK_DELAY_MS * 0.8, `chunks arrived over ${last - first} ms`);
  });

  it('sends other /v1 paths to prefill only', async () => {
    clear();
    const r = await request(port, 'GET', '/v1/models');
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { data: { id: string }[] }).data[0]!.id, 'deepseek');
    assert.equal(prefill.flatMap((f) => f.requests).length, 1);
    assert.equal(decode.flatMap((f) => f.requests).length, 0);
    assert.ok(r.headers['x-request-id']);
    assert.notEqual(r.headers['x-request-id'], 'upstream-own-id');
  });

  it('returns a prefill error to the client as is and never calls decode', async () => {
    clear();
    const r = await request(port, 'POST', '/v1/completions', '{"model":"no-such-model","prompt":"hi"}');
    assert.equal(r.status, 404);
    assert.match((JSON.parse(r.body) as { error: { message: string } }).error.message, /does not exist/);
    assert.equal(decode.flatMap((f) => f.requests).length, 0);
    assert.ok(r.headers['x-request-id']);
  });

  it('refuses a body that is not a JSON object with 400', async () => {
    const r = await request(port, 'POST', '/v1/completions', 'not json');
    assert.equal(r.status, 400);
  });

  it("serves nginx's stub_status for deploy top at /proxy_status", async () => {
    const r = await request(port, 'GET', PROXY_STATUS_PATH);
    assert.equal(r.status, 200);
    const status = readProxyStatus(r.body, 0);
    assert.ok(status && status.requests > 0 && status.writing >= 1, r.body);
  });

  it('answers unknown paths with 404', async () => {
    assert.equal((await request(port, 'GET', '/metrics')).status, 404);
  });

  it('/health is degraded with one decode server down, and completions still all succeed', async () => {
    await kill(decode[0]!);
    try {
      const h = await request(port, 'GET', '/health');
      assert.equal(h.status, 200);
      assert.deepEqual(
        JSON.parse(h.body),
        health('degraded', { healthy: prefill }, { healthy: [decode[1]!], unhealthy: [decode[0]!] }),
      );
      clear();
      const load = await runLoad({
        url: completionsUrl(),
        model: 'deepseek',
        requests: 50,
        concurrency: 5,
        timeoutMs: 5000,
      });
      // A refused connection happens before anything is sent: nginx moves the request to d1.
      assert.deepEqual(load.byStatus, { '200': 50 }, JSON.stringify(load));
      assert.equal(decode[1]!.requests.length, 50);
    } finally {
      await revive(decode[0]!);
    }
  });

  it('/health is down (503) with every decode server down, and ok as soon as they return', async (t) => {
    await Promise.all(decode.map(kill));
    let back = 0;
    try {
      const h = await request(port, 'GET', '/health');
      assert.equal(h.status, 503);
      assert.deepEqual(
        JSON.parse(h.body),
        health('down', { healthy: prefill }, { healthy: [], unhealthy: decode }),
      );
      assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"x"}')).status, 502);
    } finally {
      await Promise.all(decode.map(revive));
      back = performance.now();
    }
    const h = await request(port, 'GET', '/health');
    assert.equal(h.status, 200, 'probes do not wait for the passive checks');
    assert.deepEqual(JSON.parse(h.body), health('ok', { healthy: prefill }, { healthy: decode }));
    // Traffic: both servers failed their last try, so nginx skips them until fail_timeout has
    // passed since then: 5 s, counted on nginx's one-second clock, so at most 6 s.
    let status = 0;
    while (status !== 200) {
      status = (await request(port, 'POST', '/v1/completions', '{"prompt":"x"}')).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      assert.ok(performance.now() - back < 6500, 'completions fail for longer than fail_timeout');
    }
    t.diagnostic(`completions served again ${Math.round(performance.now() - back)} ms after decode returned`);
  });

  it('/health marks an upstream that accepts but never answers unhealthy within the probe timeout', async () => {
    decode[1]!.health = 'hang';
    prefill[1]!.health = 'error';
    try {
      const t0 = performance.now();
      const h = await request(port, 'GET', '/health');
      const took = performance.now() - t0;
      assert.equal(h.status, 200);
      assert.deepEqual(
        JSON.parse(h.body),
        health(
          'degraded',
          { healthy: [prefill[0]!], unhealthy: [prefill[1]!] },
          { healthy: [decode[0]!], unhealthy: [decode[1]!] },
        ),
      );
      assert.ok(took >= 1900 && took < 3500, `/health took ${took} ms (probe read timeout 2 s)`);
    } finally {
      decode[1]!.health = 'ok';
      prefill[1]!.health = 'ok';
    }
  });

  it('a decode server dying under load costs only the requests in flight on it, and serves again after fail_timeout', async (t) => {
    const concurrency = 5;
    const d0 = decode[0]!;
    let killedAt = 0;
    let revivedAt = 0;
    let dying: Promise<void> | undefined;
    let reviving: Promise<void> | undefined;
    decodeDelayMs = 20;
    clear();
    try {
      const t0 = performance.now(); // runLoad's clock starts here (samples are relative to it)
      const load = await runLoad({
        url: completionsUrl(),
        model: 'deepseek',
        durationMs: 8000,
        concurrency,
        timeoutMs: 5000,
        keepSamples: true,
        onSample: (s) => {
          if (!dying && s.endMs > 500) {
            killedAt = s.endMs;
            dying = kill(d0);
          } else if (dying && !reviving && s.endMs > killedAt + 500) {
            revivedAt = s.endMs;
            reviving = dying.then(() => revive(d0));
          }
        },
      });
      await reviving;
      const w = failureWindow(load.samples!);
      const d0Back = d0.requests.map((q) => q.at - t0).find((at) => at > revivedAt);
      t.diagnostic(
        `dead decode under load: ${load.sent} requests, ${load.failed} failed ${JSON.stringify(load.byStatus)} ` +
          `${JSON.stringify(load.errors)}; failures from ${w.firstFailureAt?.toFixed(0)} to ${w.lastFailureAt?.toFixed(0)} ms ` +
          `(killed at ${killedAt.toFixed(0)}, revived at ${revivedAt.toFixed(0)}, d0 served again at ${d0Back?.toFixed(0)}); ` +
          `latency ms ${JSON.stringify(load.latencyMs)}`,
      );
      // Only requests already sent to d0 can fail (a sent POST is never re-sent), and no more than
      // `concurrency` requests are ever in flight. The kill is synchronous in onSample, so those
      // requests started before it and ended after it.
      assert.ok(load.failed <= concurrency, `${load.failed} failed requests`);
      for (const f of load.samples!.filter((x) => !x.ok))
        assert.ok(f.startMs <= killedAt + 50 && f.endMs >= killedAt, `failed request ${JSON.stringify(f)}`);
      assert.ok(load.ok > 200, `${load.ok} requests served`);
      // Back in rotation by the passive checks alone: nginx tries it again fail_timeout (5 s, on
      // its one-second clock: at most 6 s) after its last failed try, which came before the restart.
      assert.ok(
        d0Back !== undefined && d0Back - revivedAt < 6500,
        `d0 served again at ${d0Back} ms, revived at ${revivedAt}`,
      );
    } finally {
      decodeDelayMs = 0;
      await (reviving ?? dying?.then(() => revive(d0)));
    }
  });

  /**
   * One long request holds a server of `role`, then four short ones follow one after another:
   * which servers served the short ones. Two nginx workers, so least_conn must share its counts.
   */
  const shortOnesBehindALongOne = async (role: 'prefill' | 'decode', config: ProxyConfigSpec) => {
    await reloadTo({ ...config, workerProcesses: 2 });
    clear();
    const long = request(
      port,
      'POST',
      '/v1/completions',
      JSON.stringify({ prompt: 'long', [`${role}_ms`]: 1500 }),
    );
    const group = role === 'prefill' ? prefill : decode;
    const busy = await waitFor(() => group.find((f) => f.requests.length === 1), {
      timeout: 5000,
      interval: 10,
      what: `the long request to reach a ${role} server`,
    });
    for (let i = 0; i < 4; i++)
      assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"short"}')).status, 200);
    assert.equal((await long).status, 200);
    return { onBusy: busy.requests.length - 1, total: group.reduce((n, f) => n + f.requests.length, 0) };
  };

  it('least_conn (the default PREFILL_LB_SDK/DECODE_LB_SDK) sends requests past a busy server; round-robin does not', async () => {
    const leastConn = { ...spec, balance: { prefill: 'least_conn', decode: 'least_conn' } } as const;
    assert.match(
      renderProxyConfig(leastConn).nginxConf,
      /upstream prefill_servers \{\n {4}zone prefill_servers 64k;\n {4}least_conn;/,
    );
    try {
      for (const role of ['prefill', 'decode'] as const) {
        assert.deepEqual(await shortOnesBehindALongOne(role, leastConn), { onBusy: 0, total: 5 }, role);
        const rr = await shortOnesBehindALongOne(role, spec);
        assert.ok(rr.onBusy >= 1, `round-robin sent none of the short ${role} requests to the busy server`);
      }
    } finally {
      await reloadTo(spec);
    }
  });

  it('a regenerated config with a server drained takes it out of rotation; /health lists it as drained', async () => {
    const drained = { ...spec, drained: [decode[0]!.address] };
    assert.notEqual(proxyConfigHash(drained), proxyConfigHash(spec));
    await reloadTo(drained);
    clear();
    for (let i = 0; i < 6; i++)
      assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"r"}')).status, 200);
    assert.equal(decode[0]!.requests.length, 0);
    assert.equal(decode[1]!.requests.length, 6);
    const probes = decode[0]!.probes;
    const h = await request(port, 'GET', '/health');
    assert.equal(h.status, 200);
    assert.deepEqual(
      JSON.parse(h.body),
      health('degraded', { healthy: prefill }, { healthy: [decode[1]!], drained: [decode[0]!] }),
    );
    assert.equal(decode[0]!.probes, probes, 'a drained server is not probed');

    await reloadTo(spec);
    clear();
    for (let i = 0; i < 6; i++)
      assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"r"}')).status, 200);
    assert.ok(decode[0]!.requests.length >= 2, 'back in rotation');
    assert.equal(JSON.parse((await request(port, 'GET', '/health')).body).status, 'ok');
  });

  it('applies a regenerated config with nginx -s reload when the endpoints change', async () => {
    const changed = { ...spec, decode: [decode[1]!.address] };
    assert.notEqual(proxyConfigHash(changed), proxyConfigHash(spec));
    // The old workers finish their requests and leave; new ones take the new upstream list.
    await reloadTo(changed);
    clear();
    for (let i = 0; i < 4; i++)
      assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"r"}')).status, 200);
    assert.equal(decode[0]!.requests.length, 0, 'the removed decode server still gets requests');
    assert.equal(decode[1]!.requests.length, 4);
    assert.deepEqual(
      JSON.parse((await request(port, 'GET', '/health')).body),
      health('ok', { healthy: prefill }, { healthy: [decode[1]!] }),
    );
  });

  it('keeps serving with one prefill server down (passive failover)', async () => {
    const down = prefill[0]!;
    down.server.closeAllConnections();
    await new Promise((r) => down.server.close(r));
    clear();
    for (let i = 0; i < 4; i++) {
      const streamed = i % 2 === 1;
      const r = await request(
        port,
        'POST',
        '/v1/completions',
        JSON.stringify({ model: 'deepseek', prompt: `q${i}`, stream: streamed }),
      );
      assert.equal(r.status, 200, r.body);
    }
    assert.equal(prefill[1]!.requests.length, 4);
    assert.equal(decode[1]!.requests.length, 4);
    const h = await request(port, 'GET', '/health');
    assert.equal(h.status, 200);
    assert.deepEqual(
      JSON.parse(h.body),
      health('degraded', { healthy: [prefill[1]!], unhealthy: [prefill[0]!] }, { healthy: [decode[1]!] }),
    );
  });
});
