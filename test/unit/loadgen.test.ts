import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkLoadTarget, failureWindow, runLoad, type Sample } from '../../src/loadgen';
import { freePort } from '../helpers/ports';

/** The load generator against a tiny local server: ok, 502, slow, refused, and the address guard. */

describe('load generator', () => {
  let server: http.Server;
  let base: string;
  const bodies: unknown[] = [];
  let failing = false;
  let hangups = 0;

  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(JSON.parse(body));
        const route = req.url!.split('/')[1];
        if (route === 'slow') return; // never answers: the client's timeout ends it
        if (route === 'hangup' && hangups > 0) {
          // The connection closes without an answer, as a proxy's old worker does to an idle
          // keep-alive connection on a graceful reload.
          hangups--;
          return req.socket.destroy();
        }
        if (route === 'redirect') {
          res.writeHead(302, { Location: 'http://192.0.2.1/v1/completions' });
          return res.end();
        }
        if (route === 'cut') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          res.write('data: {}\n\n');
          return setTimeout(() => res.destroy(), 20);
        }
        const status = route === 'bad' || (route === 'flaky' && failing) ? 502 : 200;
        res.writeHead(status, { 'Content-Type': 'application/json' });
        setTimeout(() => res.end(JSON.stringify({ choices: [{ text: 'x' }] })), 2);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(() => {
    server.closeAllConnections();
    server.close();
  });

  it('sends N requests at concurrency C and counts them', async () => {
    bodies.length = 0;
    const r = await runLoad({
      url: `${base}/ok/v1/completions`,
      model: 'deepseek',
      requests: 40,
      concurrency: 4,
      timeoutMs: 2000,
      prompt: 'p',
      keepSamples: true,
    });
    assert.equal(r.sent, 40);
    assert.equal(r.ok, 40);
    assert.equal(r.failed, 0);
    assert.deepEqual(r.byStatus, { '200': 40 });
    assert.deepEqual(r.errors, {});
    assert.ok(r.latencyMs.p50 > 0 && r.latencyMs.p50 <= r.latencyMs.p90);
    assert.ok(r.latencyMs.p90 <= r.latencyMs.p99 && r.latencyMs.p99 <= r.latencyMs.max);
    assert.ok(r.elapsedMs >= r.latencyMs.max);
    assert.ok(!Number.isNaN(Date.parse(r.startedAt)));
    assert.deepEqual(
      r.samples!.map((s) => s.index),
      [...Array(40).keys()],
    );
    assert.deepEqual(bodies[0], { model: 'deepseek', max_tokens: 16, stream: false, prompt: 'p' });
  });

  it('sends chat messages to a chat URL, with stream when asked', async () => {
    bodies.length = 0;
    await runLoad({
      url: `${base}/ok/v1/chat/completions`,
      model: 'm',
      requests: 1,
      concurrency: 1,
      timeoutMs: 2000,
      stream: true,
      maxTokens: 3,
    });
    assert.deepEqual(bodies[0], {
      model: 'm',
      max_tokens: 3,
      stream: true,
      messages: [{ role: 'user', content: 'hello' }],
    });
  });

  it('counts 502s, timeouts, refused connections, cut bodies and redirects as failures', async () => {
    const bad = await runLoad({
      url: `${base}/bad/v1/completions`,
      model: 'm',
      requests: 5,
      concurrency: 2,
      timeoutMs: 2000,
    });
    assert.equal(bad.failed, 5);
    assert.deepEqual(bad.byStatus, { '502': 5 });
    assert.deepEqual(bad.latencyMs, { p50: 0, p90: 0, p99: 0, max: 0 }, 'latency counts successes only');

    const slow = await runLoad({
      url: `${base}/slow/v1/completions`,
      model: 'm',
      requests: 2,
      concurrency: 2,
      timeoutMs: 150,
    });
    assert.deepEqual(slow.errors, { timeout: 2 });
    assert.ok(slow.elapsedMs >= 150 && slow.elapsedMs < 1500, `${slow.elapsedMs} ms`);

    const closed = `http://127.0.0.1:${await freePort()}/v1/completions`;
    const refused = await runLoad({ url: closed, model: 'm', requests: 3, concurrency: 1, timeoutMs: 2000 });
    assert.deepEqual(refused.errors, { ECONNREFUSED: 3 });
    assert.deepEqual(refused.byStatus, {});

    const cut = await runLoad({
      url: `${base}/cut/v1/completions`,
      model: 'm',
      requests: 1,
      concurrency: 1,
      timeoutMs: 2000,
    });
    assert.equal(cut.failed, 1, 'a stream cut short is a failure even after its 200');
    assert.deepEqual(cut.byStatus, { '200': 1 });
    assert.equal(Object.keys(cut.errors).length, 1);

    const redirect = await runLoad({
      url: `${base}/redirect/v1/completions`,
      model: 'm',
      requests: 1,
      concurrency: 1,
      timeoutMs: 2000,
    });
    assert.deepEqual(redirect.byStatus, { '302': 1 }, 'not followed off the allowed addresses');
    assert.equal(redirect.failed, 1);
  });

  it('runs for a duration, calls back per request, and measures the failure window', async () => {
    failing = false;
    const seen: Sample[] = [];
    const r = await runLoad({
      url: `${base}/flaky/v1/completions`,
      model: 'm',
      durationMs: 600,
      concurrency: 3,
      timeoutMs: 2000,
      pauseMs: 5,
      keepSamples: true,
      onSample: (s) => {
        seen.push(s);
        if (s.endMs > 200 && s.endMs < 400) failing = true;
        if (s.endMs >= 400) failing = false;
      },
    });
    failing = false;
    assert.equal(seen.length, r.sent);
    assert.ok(r.sent > 20, `${r.sent} requests in 600 ms`);
    assert.ok(r.elapsedMs >= 600 && r.elapsedMs < 1500, `${r.elapsedMs} ms`);
    assert.ok(
      r.samples!.every((s) => s.startMs < 600),
      'nothing starts after the duration',
    );
    const w = failureWindow(r.samples!);
    assert.equal(w.failures, r.failed);
    assert.ok(w.failures > 0);
    assert.ok(w.firstFailureAt! >= 100 && w.lastFailureAt! <= 600, JSON.stringify(w));
    assert.equal(w.spanMs, w.lastFailureAt! - w.firstFailureAt!);
    assert.deepEqual(failureWindow(r.samples!.filter((s) => s.ok)), {
      failures: 0,
      firstFailureAt: null,
      lastFailureAt: null,
      spanMs: 0,
      okInside: 0,
    });
  });

  it('stops on its signal and when a callback throws', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const r = await runLoad({
      url: `${base}/slow/v1/completions`,
      model: 'm',
      requests: 10,
      concurrency: 2,
      timeoutMs: 5000,
      signal: ac.signal,
    });
    assert.equal(r.sent, 2);
    assert.deepEqual(r.errors, { aborted: 2 });

    let calls = 0;
    await assert.rejects(
      runLoad({
        url: `${base}/ok/v1/completions`,
        model: 'm',
        requests: 50,
        concurrency: 2,
        timeoutMs: 2000,
        onSample: () => {
          calls++;
          throw new Error('enough');
        },
      }),
      /enough/,
    );
    assert.ok(calls <= 2, `${calls} callbacks`);
  });

  it('sends a request again, at most twice, when its connection broke before any answer — only when asked, and counts it', async () => {
    const url = `${base}/hangup/v1/completions`;
    hangups = 1;
    const plain = await runLoad({ url, model: 'm', requests: 1, concurrency: 1, timeoutMs: 5000 });
    assert.equal(plain.failed, 1);
    assert.equal(plain.retried, 0);
    /** One request with resends on, after `n` hang-ups: [ok, failed, retried]. */
    const afterHangups = async (n: number) => {
      hangups = n;
      const r = await runLoad({
        url,
        model: 'm',
        requests: 1,
        concurrency: 1,
        timeoutMs: 5000,
        retryBrokenConnections: true,
      });
      return [r.ok, r.failed, r.retried];
    };
    assert.deepEqual(await afterHangups(1), [1, 0, 1]);
    // Both pooled connections closed by one reload: the second resend gets through.
    assert.deepEqual(await afterHangups(2), [1, 0, 2]);
    assert.deepEqual(await afterHangups(3), [0, 1, 2], 'two resends, not more');
  });

  it('refuses hosts outside loopback and the simulated cluster', async () => {
    for (const ok of [
      'http://127.0.0.1:8000/v1/completions',
      'http://127.5.6.7/v1/completions',
      'http://127.1:7000/',
      'http://localhost:7000/',
      'http://[::1]:7000/',
      'http://10.231.0.11:7000/',
      'http://10.231.255.1/',
    ])
      assert.equal(checkLoadTarget(ok).href.length > 0, true, ok);
    for (const bad of [
      'http://10.232.0.1/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      'http://8.8.8.8/',
      'http://example.com/',
      'http://localhost.example.com/',
      'http://[::2]/',
      'http://[::ffff:8.8.8.8]/',
      'http://0.0.0.0/',
    ])
      assert.throws(() => checkLoadTarget(bad), /refusing .*only loopback/, bad);
    assert.throws(() => checkLoadTarget('file:///etc/passwd'), /not http/);
    assert.throws(() => checkLoadTarget('nope'), /not a URL/);
    await assert.rejects(
      runLoad({
        url: 'http://192.0.2.1/v1/completions',
        model: 'm',
        requests: 1,
        concurrency: 1,
        timeoutMs: 100,
      }),
      /refusing 192\.0\.2\.1/,
    );
  });

  it('refuses unbounded runs', async () => {
    const o = { url: `${base}/ok/v1/completions`, model: 'm', concurrency: 1, timeoutMs: 1000 };
    await assert.rejects(
      runLoad({ ...o, requests: 100_001 }),
      /requests must be an integer from 1 to 100000/,
    );
    await assert.rejects(runLoad({ ...o, requests: 1, concurrency: 257 }), /concurrency .* 256/);
    await assert.rejects(runLoad({ ...o, requests: 1, concurrency: 0 }), /concurrency/);
    await assert.rejects(runLoad({ ...o, requests: 1, timeoutMs: 0 }), /timeoutMs/);
    await assert.rejects(runLoad({ ...o, durationMs: 3_600_001 }), /durationMs/);
    await assert.rejects(runLoad(o), /give requests, durationMs or both/);
  });
});
