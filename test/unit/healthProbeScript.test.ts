import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { EngineLoadExport, LOAD_METRIC_PATTERN } from '../../src/activities/engineLoad';
import { parseProbe, PROBE_SCRIPT } from '../../src/activities/health';
import { readEngineScrape } from '../../src/top/engineLoad';
import type { ProbeHost } from '../../src/activities/types';

/**
 * The health probe script itself, run by `sh` as a host runs it, against API servers on loopback
 * and a stand-in container CLI that records each call. A container-engine call costs a process
 * (podman) or a round trip (dockerd) on every host every round; it is made only when a server or
 * the proxy did not answer, and then the state it reports is the one observed.
 */
describe('health probe script', () => {
  let dir: string;
  let cli: string;
  const servers: http.Server[] = [];
  const ports: Record<'ok' | 'failing' | 'proxy', number> = { ok: 0, failing: 0, proxy: 0 };
  let closed = 0;

  const listen = async (handler: http.RequestListener): Promise<number> => {
    const s = http.createServer(handler);
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return (s.address() as AddressInfo).port;
  };

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-probe-'));
    cli = path.join(dir, 'docker');
    // `docker container inspect --format … NAME`: records the call, answers the state the test set.
    fs.writeFileSync(cli, `#!/bin/sh\necho "$*" >> "${dir}/calls"\ncat "${dir}/state"\n`, { mode: 0o755 });
    ports.ok = await listen((req, res) =>
      res.end(
        req.url === '/metrics'
          ? [
              '# HELP vllm:num_requests_running Number of requests in model execution batches.',
              'vllm:num_requests_running{engine="0",model_name="deepseek"} 2.0',
              'vllm:num_requests_waiting{engine="0",model_name="deepseek"} 5.0',
              'vllm:cache_config_info{block_size="128",engine="0"} 1.0',
              'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="deepseek"} 3.0',
              'vllm:time_to_first_token_seconds_count{engine="0",model_name="deepseek"} 3.0',
              '',
            ].join('\n')
          : 'ok',
      ),
    );
    ports.failing = await listen((_, res) => res.writeHead(503).end());
    ports.proxy = await listen((_, res) => res.end('{"status":"degraded"}\n'));
    // A port nothing listens on: taken, then given back.
    closed = await listen(() => undefined);
    await new Promise((r) => servers.pop()!.close(r));
  });
  after(async () => {
    for (const s of servers) await new Promise((r) => s.close(r));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // Not execFileSync: the servers answer from this process's event loop.
  async function probe(serverPorts: number[], proxyPort?: number, state = 'exited', load = '-') {
    fs.writeFileSync(path.join(dir, 'state'), `${state}\n`);
    fs.rmSync(path.join(dir, 'calls'), { force: true });
    const host: ProbeHost = {
      target: { name: 'p0', address: '127.0.0.1', port: 22, user: 'root' } as ProbeHost['target'],
      cli: 'docker',
      container: 'omni_p0',
      address: '127.0.0.1',
      servers: serverPorts.map((port, dpRank) => ({ port, dpRank })),
      ...(proxyPort !== undefined && { proxyPort }),
    };
    const { stdout } = await promisify(execFile)('sh', [
      '-c',
      PROBE_SCRIPT,
      'probe',
      cli,
      host.container,
      host.address,
      proxyPort === undefined ? '-' : String(proxyPort),
      load,
      ...serverPorts.map(String),
    ]);
    const calls = fs.existsSync(path.join(dir, 'calls'))
      ? fs.readFileSync(path.join(dir, 'calls'), 'utf8').trim().split('\n')
      : [];
    return { observation: parseProbe(host, stdout), calls, stdout };
  }

  it('every server and the proxy answer: the container runs, and no engine call is made', async () => {
    const { observation, calls } = await probe([ports.ok, ports.ok], ports.proxy);
    assert.deepEqual(calls, []);
    assert.equal(observation.container, 'running');
    assert.deepEqual(
      observation.servers.map((s) => s.healthy),
      [true, true],
    );
    assert.equal(observation.proxy, 'degraded');
  });

  it('a server that fails its health check: the container state is asked and reported', async () => {
    const { observation, calls } = await probe([ports.ok, ports.failing], undefined, 'running');
    assert.deepEqual(calls, ['container inspect --format {{.State.Status}} omni_p0']);
    assert.equal(observation.container, 'running');
    assert.deepEqual(
      observation.servers.map((s) => s.healthy),
      [true, false],
    );
  });

  it('servers that do not answer in a stopped container: the state says stopped', async () => {
    const { observation, calls } = await probe([closed], undefined, 'exited');
    assert.equal(calls.length, 1);
    assert.equal(observation.container, 'stopped');
    assert.equal(observation.servers[0]!.healthy, false);
  });

  it('the proxy host whose proxy does not answer: the state is asked', async () => {
    const { observation, calls } = await probe([], closed, 'running');
    assert.equal(calls.length, 1);
    assert.equal(observation.proxy, 'unreachable');
    assert.equal(observation.container, 'running');
  });

  it('a host with nothing to ask over HTTP (a Ray worker): the state is always asked', async () => {
    const { observation, calls } = await probe([], undefined, 'running');
    assert.equal(calls.length, 1);
    assert.equal(observation.container, 'running');
  });

  it("passes back only the load lines of each server's /metrics when the worker exports load, and none otherwise", async () => {
    const without = await probe([ports.ok], undefined, 'running');
    assert.doesNotMatch(without.stdout, /^metrics /m);
    const { observation, stdout } = await probe(
      [ports.ok, ports.failing],
      undefined,
      'running',
      LOAD_METRIC_PATTERN,
    );
    assert.deepEqual(
      observation.servers.map((s) => s.healthy),
      [true, false],
    );
    const byPort = EngineLoadExport.linesByPort(stdout);
    assert.deepEqual([...byPort.keys()], [ports.ok], 'the failing server answers no metrics');
    assert.deepEqual(byPort.get(ports.ok)!.trim().split('\n'), [
      'vllm:num_requests_running{engine="0",model_name="deepseek"} 2.0',
      'vllm:num_requests_waiting{engine="0",model_name="deepseek"} 5.0',
      'vllm:time_to_first_token_seconds_bucket{engine="0",le="0.1",model_name="deepseek"} 3.0',
    ]);
    const scrape = readEngineScrape(byPort.get(ports.ok)!, 0)!;
    assert.deepEqual([scrape.running, scrape.waiting, scrape.ttft?.buckets], [2, 5, [{ le: 0.1, count: 3 }]]);
  });
});
