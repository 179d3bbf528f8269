import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  nginxCommands,
  proxyConfigHash,
  renderProxyConfig,
  type ProxyConfigSpec,
} from '../../src/plan/proxy';
import { freePort } from '../helpers/ports';

/**
 * The generated proxy on the real Debian nginx + njs 0.7.9, in front of fake engines on
 * loopback addresses: two prefill servers answering with kv_transfer_params and two decode
 * servers that insist on them and stream slowly.
 */

const NGINX = '/usr/sbin/nginx';
const CHUNK_DELAY_MS = 250;
const CHUNKS = 4;

interface Recorded {
  server: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

interface Fake {
  name: string;
  server: http.Server;
  address: string;
  requests: Recorded[];
}

async function startFake(
  name: string,
  host: string,
  handle: (req: Recorded, res: http.ServerResponse) => void,
): Promise<Fake> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const rec = { server: name, method: req.method!, url: req.url!, headers: req.headers, body };
      requests.push(rec);
      handle(rec, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return { name, server, address: `${host}:${port}`, requests };
}

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'X-Request-Id': 'upstream-own-id' });
  res.end(JSON.stringify(value));
}

function prefillHandler(name: string) {
  return (req: Recorded, res: http.ServerResponse) => {
    if (req.url === '/v1/models')
      return json(res, 200, { object: 'list', data: [{ id: 'deepseek', owned_by: name }] });
    const body = JSON.parse(req.body) as { model?: string };
    if (body.model === 'no-such-model') {
      return json(res, 404, { error: { message: 'The model `no-such-model` does not exist.', code: 404 } });
    }
    json(res, 200, {
      id: `cmpl-${name}`,
      choices: [{ index: 0, text: 'x', finish_reason: 'length' }],
      kv_transfer_params: { remote_engine_id: name, remote_block_ids: [1, 2, 3], do_remote_decode: false },
    });
  };
}

function decodeHandler(name: string) {
  return (req: Recorded, res: http.ServerResponse) => {
    const body = JSON.parse(req.body) as { stream?: boolean; kv_transfer_params?: unknown };
    if (body.kv_transfer_params === undefined)
      return json(res, 400, { error: { message: 'kv_transfer_params missing' } });
    if (!body.stream) {
      return json(res, 200, {
        id: `cmpl-${name}`,
        choices: [{ index: 0, text: 'decoded', finish_reason: 'stop' }],
      });
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

  it('/health answers 200 with a small JSON', async () => {
    const r = await request(port, 'GET', '/health');
    assert.equal(r.status, 200);
    assert.match(r.headers['content-type'] ?? '', /application\/json/);
    assert.deepEqual(JSON.parse(r.body), { status: 'ok', prefill_servers: 2, decode_servers: 2 });
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

  it('answers unknown paths with 404', async () => {
    assert.equal((await request(port, 'GET', '/metrics')).status, 404);
  });

  it('applies a regenerated config with nginx -s reload when the endpoints change', async () => {
    const changed = { ...spec, decode: [decode[1]!.address] };
    assert.notEqual(proxyConfigHash(changed), proxyConfigHash(spec));
    fs.writeFileSync(confPath, renderProxyConfig(changed).nginxConf);
    const reload = spawnSync(cmds.reload[0]!, cmds.reload.slice(1), { encoding: 'utf8' });
    assert.equal(reload.status, 0, reload.stderr);
    // The old workers finish their requests and leave; new ones take the new upstream list.
    const end = Date.now() + 5000;
    for (;;) {
      clear();
      for (let i = 0; i < 4; i++)
        assert.equal((await request(port, 'POST', '/v1/completions', '{"prompt":"r"}')).status, 200);
      if (decode[0]!.requests.length === 0) break;
      assert.ok(Date.now() < end, 'the removed decode server still gets requests');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(decode[1]!.requests.length, 4);
    assert.deepEqual(JSON.parse((await request(port, 'GET', '/health')).body), {
      status: 'ok',
      prefill_servers: 2,
      decode_servers: 1,
    });
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
  });
});
