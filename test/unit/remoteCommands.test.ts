import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { commandString } from '../../src/remote/command';
import {
  deadPids,
  deviceIp,
  deviceIps,
  parseDeviceIps,
  fileExists,
  folderExists,
  freeSpace,
  httpGet,
  listeningTcp,
  listFiles,
  logSinceLastStart,
  makeFolders,
  missingPaths,
  ownsAddress,
  parseDeadPids,
  parseFileList,
  parseFreeSpace,
  parseHttpAnswer,
  parseListeningPorts,
  parseMissingPaths,
  parseReadyPorts,
  parseUpstreams,
  pidFileAlive,
  postJson,
  probeApiServers,
  readFile,
  removeFiles,
  requestLogLines,
  runScript,
  runScriptIfPresent,
} from '../../src/remote/commands';
import { freePort } from '../helpers/ports';

/**
 * The remote command builders and their output parsers. Each builder is checked for where its
 * values go (one argv word each, never into the script text, however hostile), and its script is
 * run here with the local shell exactly as a host's login shell gets it (commandString: the argv
 * shell-quoted), on files with hostile names. Parsers get real outputs, failures included.
 */

/** Names a shell would love to misread: quotes, expansions, globs, options, separators. */
const HOSTILE = [
  `it's "quoted"`,
  '$(touch PWNED)',
  '`touch PWNED`',
  '$HOME and ${PATH}',
  '*',
  '-rf',
  'a; touch PWNED',
  'a && touch PWNED || b',
  'back\\slash',
  'tab\there',
  'ünïcødé 中文 🚀',
  '> redirected',
];

/** Runs argv through `sh -c` as a host would (quoted by commandString), in `cwd`. */
function runLocal(
  argv: readonly string[],
  opts: { cwd?: string; stdin?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', commandString({ argv })], { cwd: opts.cwd, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    // A command that does not read its stdin may be gone before it is written.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

/** The script of an `sh -c SCRIPT NAME ARGS…` argv, and its arguments. */
function script(argv: readonly string[]): { text: string; args: readonly string[] } {
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  return { text: argv[2]!, args: argv.slice(4) };
}

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-cmd-'));
});
afterEach(() => {
  // A hostile name that ran as a command would have made this file.
  assert.ok(!fs.existsSync(path.join(tmp, 'PWNED')), 'a value was executed by the shell');
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('files', () => {
  it('puts every path in one argv word after `--`, and refuses relative ones', () => {
    for (const name of HOSTILE) {
      const p = `/srv/${name}`;
      assert.deepEqual(readFile(p), ['cat', '--', p]);
      assert.deepEqual(fileExists(p), ['test', '-f', p]);
      assert.deepEqual(folderExists(p), ['test', '-d', p]);
      assert.deepEqual(makeFolders([p, '/b']), ['mkdir', '-p', '--', p, '/b']);
      assert.deepEqual(removeFiles([p]), ['rm', '-f', '--', p]);
      assert.deepEqual(runScript(p), ['bash', p]);
      assert.deepEqual(script(runScriptIfPresent(p)).args, [p]);
      assert.deepEqual(script(listFiles(p, 'json')).args, [p, 'json']);
      assert.deepEqual(script(missingPaths([p, name])).args, [p, name]);
    }
    for (const bad of ['-rf', 'relative/x', '', '/nul\0byte']) {
      assert.throws(() => readFile(bad), /must be an absolute path on the host/);
      assert.throws(() => removeFiles(['/ok', bad]), RangeError);
    }
    assert.throws(() => listFiles('/srv', 'json"; rm -rf /'), /file extension/);
  });

  it('reads, tests, makes and removes files with hostile names, and nothing else', async () => {
    const names = HOSTILE.map((n) => path.join(tmp, n.replace(/\//g, '_')));
    fs.writeFileSync(path.join(tmp, 'bystander'), 'stays');
    assert.equal((await runLocal(makeFolders(names.map((n) => `${n}.d`)))).code, 0);
    for (const n of names) {
      assert.ok(fs.statSync(`${n}.d`).isDirectory(), n);
      fs.writeFileSync(n, `content of ${n}`);
      assert.equal((await runLocal(readFile(n))).stdout, `content of ${n}`);
      assert.equal((await runLocal(fileExists(n))).code, 0);
      assert.notEqual((await runLocal(folderExists(n))).code, 0);
      assert.equal((await runLocal(folderExists(`${n}.d`))).code, 0);
    }
    assert.notEqual((await runLocal(readFile(path.join(tmp, 'missing')))).code, 0);
    // `*` and `-rf` are file names here, not a glob and an option.
    assert.equal((await runLocal(removeFiles([...names, path.join(tmp, 'never-was')]))).code, 0);
    for (const n of names) assert.ok(!fs.existsSync(n), n);
    assert.equal(fs.readFileSync(path.join(tmp, 'bystander'), 'utf8'), 'stays');
  });

  it('lists the missing paths and the files of a folder, nothing for a folder not made yet', async () => {
    const present = path.join(tmp, '$(touch PWNED) dev');
    fs.writeFileSync(present, '');
    const absent = [path.join(tmp, "davinci 'missing'"), path.join(tmp, '*')];
    const r = await runLocal(missingPaths([present, ...absent]));
    assert.deepEqual(parseMissingPaths(r.stdout), absent);

    const dir = path.join(tmp, 'rank tables');
    fs.mkdirSync(path.join(dir, 'global'), { recursive: true });
    const jsons = [path.join(dir, 'a "x".json'), path.join(dir, 'global', '$HOME.json')];
    for (const f of [...jsons, path.join(dir, 'notes.txt')]) fs.writeFileSync(f, '{}');
    const listed = await runLocal(listFiles(dir, 'json'));
    assert.equal(listed.code, 0);
    assert.deepEqual(parseFileList(listed.stdout).sort(), [...jsons].sort());
    const none = await runLocal(listFiles(path.join(tmp, 'not yet'), 'json'));
    assert.deepEqual([none.code, parseFileList(none.stdout)], [0, []]);
  });

  it('runs a script only when it exists, with its exit status', async () => {
    const absent = await runLocal(runScriptIfPresent(path.join(tmp, 'stop $(touch PWNED).sh')));
    assert.equal(absent.code, 0);
    const stop = path.join(tmp, "stop 'p0'.sh");
    fs.writeFileSync(stop, 'echo stopping "$0"; exit 4\n');
    const r = await runLocal(runScriptIfPresent(stop));
    assert.deepEqual([r.code, r.stdout], [4, `stopping ${stop}\n`]);
    assert.equal((await runLocal(runScript(stop))).code, 4);
  });
});

describe('processes', () => {
  /** A PID that was alive a moment ago and is gone now. */
  const goneChildPid = () =>
    new Promise<number>((resolve) => {
      const child = spawn('true');
      child.on('exit', () => resolve(child.pid!));
    });

  it('passes PIDs as arguments and refuses what is not one', () => {
    assert.deepEqual(script(deadPids([12, 345])).args, ['12', '345']);
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => deadPids([bad]), /not a process id/);
  });

  it('finds the dead among live and dead PIDs', async () => {
    const gone = await goneChildPid();
    const pids = [process.pid, gone];
    const r = await runLocal(deadPids(pids));
    assert.deepEqual(parseDeadPids(r, pids), [gone]);
  });

  it('counts every PID dead when the container is gone or stopped', () => {
    const pids = [101, 102];
    for (const stderr of [
      'Error response from daemon: No such container: you_name_omni_infer_decode_d0\n',
      'Error: no container with name or ID "x" found: no such container\n',
      'Error response from daemon: container 4f1c is not running\n',
    ]) {
      assert.deepEqual(parseDeadPids({ code: 1, stdout: '', stderr }, pids), pids, stderr);
    }
    // Noise on stdout names no PID of ours.
    assert.deepEqual(parseDeadPids({ code: 0, stdout: 'warning\n102\n', stderr: '' }, pids), [102]);
  });

  it('says whether a pid file names a live process, never running its content', async () => {
    const file = (name: string, content: string) => {
      const p = path.join(tmp, name);
      fs.writeFileSync(p, content);
      return p;
    };
    assert.equal((await runLocal(pidFileAlive(file('live $(x).pid', `${process.pid}\n`)))).code, 0);
    assert.notEqual((await runLocal(pidFileAlive(file('dead.pid', `${await goneChildPid()}\n`)))).code, 0);
    assert.notEqual((await runLocal(pidFileAlive(path.join(tmp, 'none.pid')))).code, 0);
    const evil = file('evil.pid', `$(touch ${path.join(tmp, 'PWNED')})\n`);
    assert.notEqual((await runLocal(pidFileAlive(evil))).code, 0);
  });
});

describe('API servers', () => {
  const model = "deep seek $(touch PWNED) 'v3'";
  const servers: http.Server[] = [];
  let ready: number;
  let starting: number;
  let otherModel: number;

  /** An API server whose /health answers `health` and whose /v1/models lists `id`. */
  const serve = async (health: number, id: string): Promise<number> => {
    const server = http.createServer((req, res) => {
      if (req.url === '/health') res.writeHead(health).end();
      else res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ data: [{ id }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return (server.address() as AddressInfo).port;
  };

  before(async () => {
    ready = await serve(200, model);
    starting = await serve(503, model);
    otherModel = await serve(200, `${model}-distill`); // a name that starts like the model's is not it
  });
  after(() => Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve)))));

  it('puts address, model and ports in arguments', () => {
    const argv = probeApiServers({ address: '10.0.0.1', model, ports: [9000, 9001], requestTimeoutMs: 2500 });
    assert.deepEqual(script(argv).args, ['10.0.0.1', model, '2.5', '9000', '9001']);
    assert.equal(
      script(argv).text,
      script(probeApiServers({ address: '$(x)', model: '`y`', ports: [1], requestTimeoutMs: 1 })).text,
    );
    assert.throws(() => probeApiServers({ address: 'a', model: 'm', ports: [0], requestTimeoutMs: 1 }));
    assert.throws(() => probeApiServers({ address: 'a', model: 'm', ports: [1], requestTimeoutMs: 0 }));
  });

  it('finds the servers that are healthy and list the model (as a whole JSON string)', async () => {
    const closed = await freePort();
    const r = await runLocal(
      probeApiServers({
        address: '127.0.0.1',
        model,
        ports: [ready, starting, otherModel, closed],
        requestTimeoutMs: 2000,
      }),
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...parseReadyPorts(r.stdout)], [ready]);
    assert.match(r.stdout, new RegExp(`^${closed} waiting$`, 'm'));
  });

  it('reads ready ports from real and garbled output', () => {
    assert.deepEqual([...parseReadyPorts('9000 ready\n9001 waiting\n9002 ready\n')], [9000, 9002]);
    assert.deepEqual([...parseReadyPorts('curl: (7) Failed to connect\n9000 readyish\nready\n')], []);
    assert.deepEqual([...parseReadyPorts('')], []);
  });

  it('shows a log from the last start on, the marker taken literally', async () => {
    const marker = '=== omni-deploy: starting [.*] /x/ \\1';
    const log = path.join(tmp, "server 0's.log");
    fs.writeFileSync(
      log,
      [
        `${marker} rank 0 at 1`,
        'old error: port busy',
        `${marker} rank 0 at 2`,
        'loading',
        `not a start: ${marker}`,
        'ValueError: bad kv rank',
        '',
      ].join('\n'),
    );
    const r = await runLocal(logSinceLastStart(log, marker));
    assert.equal(
      r.stdout,
      `${marker} rank 0 at 2\nloading\nnot a start: ${marker}\nValueError: bad kv rank\n`,
    );
    const last2 = await runLocal(logSinceLastStart(log, marker, 2));
    assert.equal(last2.stdout, `not a start: ${marker}\nValueError: bad kv rank\n`);
    // No start line at all (an older launcher): the end of the log.
    const none = await runLocal(logSinceLastStart(log, 'never written', 3));
    assert.equal(none.stdout, 'loading\nnot a start: ' + marker + '\nValueError: bad kv rank\n');
    assert.throws(() => logSinceLastStart(log, marker, 0), /line count/);
  });
});

describe('host checks', () => {
  it('puts the address and folder in arguments', () => {
    for (const value of HOSTILE) {
      assert.deepEqual(script(ownsAddress(value)).args, [value]);
      assert.deepEqual(script(freeSpace(`/data/${value}`)).args, [`/data/${value}`]);
    }
    assert.deepEqual(listeningTcp(), ['ss', '-Htln']);
  });

  it('knows the host’s own address as a whole word, not a prefix', async () => {
    assert.equal((await runLocal(ownsAddress('127.0.0.1'))).code, 0);
    assert.notEqual((await runLocal(ownsAddress('127.0.0.10'))).code, 0);
    assert.notEqual((await runLocal(ownsAddress('127.0.0'))).code, 0);
    assert.notEqual((await runLocal(ownsAddress('127a0b0c1'))).code, 0);
    assert.notEqual((await runLocal(ownsAddress(`$(touch ${path.join(tmp, 'PWNED')})`))).code, 0);
  });

  it('measures free space where a folder is, or will be', async () => {
    const here = await runLocal(freeSpace(tmp));
    assert.equal(parseFreeSpace(here)?.measured, tmp);
    const later = await runLocal(freeSpace(path.join(tmp, 'not yet $(x)', 'deeper')));
    const space = parseFreeSpace(later);
    assert.equal(space?.measured, tmp);
    assert.ok(space!.freeBytes > 0 && space!.freeBytes % 1024 === 0);
  });

  it('reads free space answers, refusing what is not one', () => {
    assert.deepEqual(parseFreeSpace({ code: 0, stdout: '2048 /data\n' }), {
      freeBytes: 2 << 20,
      measured: '/data',
    });
    assert.deepEqual(parseFreeSpace({ code: 0, stdout: '1 /srv/my logs\n' }), {
      freeBytes: 1024,
      measured: '/srv/my logs',
    });
    assert.equal(parseFreeSpace({ code: 1, stdout: '' }), undefined);
    assert.equal(parseFreeSpace({ code: 0, stdout: ' /data\n' }), undefined); // df printed no number
    assert.equal(parseFreeSpace({ code: 0, stdout: 'df: /data: Permission denied\n' }), undefined);
  });

  it('reads the listening ports of ss, IPv4, IPv6 and scoped', () => {
    const ss = [
      'LISTEN 0      4096         0.0.0.0:8000        0.0.0.0:*',
      'LISTEN 0      511          127.0.0.53%lo:53    0.0.0.0:*',
      'LISTEN 0      4096            [::]:9100           [::]:*',
      'LISTEN 0      128                *:22               *:*',
      'LISTEN 0      128    [fe80::1%eth0]:7000          [::]:*',
      '',
    ].join('\n');
    assert.deepEqual(
      [...parseListeningPorts(ss)].sort((a, b) => a - b),
      [22, 53, 7000, 8000, 9100],
    );
    assert.deepEqual([...parseListeningPorts('')], []);
    assert.deepEqual([...parseListeningPorts('ss: command not found\n')], []);
  });
});

describe('http', () => {
  let server: http.Server;
  let url: string;
  before(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ method: req.method, id: req.headers['x-request-id'], body }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('keeps the URL after `--` and refuses header injection', () => {
    assert.deepEqual(httpGet('-o/etc/passwd', { timeoutMs: 5000 }).slice(-2), ['--', '-o/etc/passwd']);
    const argv = postJson('http://p/v1/completions', {
      timeoutMs: 120_000,
      headers: { 'X-Request-Id': "a'b" },
    });
    assert.deepEqual(argv.slice(0, 4), ['curl', '-s', '--max-time', '120']);
    assert.ok(argv.includes("X-Request-Id: a'b"));
    assert.ok(argv.includes('Content-Type: application/json'));
    assert.throws(
      () => postJson('http://p', { timeoutMs: 1, headers: { 'X-Request-Id': 'a\r\nX-Admin: 1' } }),
      /single-line/,
    );
    assert.throws(() => postJson('http://p', { timeoutMs: 1, headers: { 'Bad Name': 'x' } }), /single-line/);
  });

  it('posts a body from stdin and reads status and body', async () => {
    const body = JSON.stringify({ prompt: `it's $(touch PWNED)\nline two` });
    const r = await runLocal(
      postJson(`${url}/v1/completions`, { timeoutMs: 5000, headers: { 'X-Request-Id': 'r-1' } }),
      {
        stdin: body,
      },
    );
    const answer = parseHttpAnswer(r.stdout);
    assert.equal(answer.status, '200');
    assert.deepEqual(JSON.parse(answer.body), { method: 'POST', id: 'r-1', body });
    const missing = parseHttpAnswer((await runLocal(httpGet(`${url}/missing`, { timeoutMs: 5000 }))).stdout);
    assert.equal(missing.status, '404');
  });

  it('reads “nothing answered” and “curl printed nothing” apart', async () => {
    const closed = await freePort();
    const r = await runLocal(httpGet(`http://127.0.0.1:${closed}/health`, { timeoutMs: 2000 }));
    assert.deepEqual(parseHttpAnswer(r.stdout), { status: '000', body: '' });
    assert.deepEqual(parseHttpAnswer(''), { status: '', body: '' });
    assert.deepEqual(parseHttpAnswer('{"a":\n1}\n\n503'), { status: '503', body: '{"a":\n1}\n' });
  });
});

describe('proxy access log', () => {
  it('greps for the request id as a fixed string and refuses a multi-line one', async () => {
    const log = path.join(tmp, 'nginx_access.log');
    fs.writeFileSync(
      log,
      [
        '127.0.0.1 - [01/Dec/2026:10:00:00 +0000] "POST /v1/completions" 200 request_id=verify-1 upstream=10.0.0.1:9000 upstream_status=200 time=0.1',
        '127.0.0.1 - [01/Dec/2026:10:00:00 +0000] "POST /v1/completions" 200 request_id=verify-1 upstream=10.0.0.3:9100, 10.0.0.4:9101 upstream_status=502, 200 time=0.4',
        '127.0.0.1 - [01/Dec/2026:10:00:01 +0000] "POST /v1/completions" 200 request_id=verify-10 upstream=10.0.0.2:9001 upstream_status=200 time=0.1',
        '127.0.0.1 - [01/Dec/2026:10:00:02 +0000] "GET /health" 200 request_id=other upstream=- upstream_status=- time=0.0',
        '',
      ].join('\n'),
    );
    const r = await runLocal(requestLogLines(log, 'verify-1 '));
    assert.deepEqual(parseUpstreams(r.stdout), ['10.0.0.1:9000', '10.0.0.3:9100', '10.0.0.4:9101']);
    assert.deepEqual(requestLogLines(log, '-e x').slice(0, 3), ['grep', '-F', '-e']);
    assert.equal((await runLocal(requestLogLines(log, '.*'))).code, 1, 'a regex is taken literally');
    assert.throws(() => requestLogLines(log, 'a\nb'), /one non-empty line/);
    assert.throws(() => requestLogLines(log, ''), /one non-empty line/);
  });

  it('reads upstreams of lines without one as none', () => {
    assert.deepEqual(parseUpstreams('request_id=x upstream=- upstream_status=-\n'), ['-']);
    assert.deepEqual(parseUpstreams(''), []);
    assert.deepEqual(parseUpstreams('grep: /log: No such file or directory\n'), []);
  });
});

describe('npu', () => {
  it('asks hccn_tool for one device', () => {
    assert.deepEqual(deviceIp(7), ['hccn_tool', '-i', '7', '-ip', '-g']);
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => deviceIp(bad), /not a device id/);
  });

  it('asks hccn_tool for every device in one command, each answer with its exit status', async () => {
    // A stand-in hccn_tool: device 1 has no IP (exit 1, message on stderr), the others answer.
    const bin = path.join(tmp, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(
      path.join(bin, 'hccn_tool'),
      '#!/bin/sh\nif [ "$2" = 1 ]; then echo "ip address is not configured" >&2; exit 1; fi\n' +
        'printf "ipaddr:192.168.1.%s\\nnetmask:255.255.255.0\\n" "$2"\n',
      { mode: 0o755 },
    );
    const argv = deviceIps([0, 1, 15]);
    const r = await runLocal(['env', `PATH=${bin}:${process.env.PATH}`, ...argv]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(parseDeviceIps(r.stdout), [
      { device: 0, code: 0, output: 'ipaddr:192.168.1.0\nnetmask:255.255.255.0\n' },
      { device: 1, code: 1, output: 'ip address is not configured\n' },
      { device: 15, code: 0, output: 'ipaddr:192.168.1.15\nnetmask:255.255.255.0\n' },
    ]);
    assert.throws(() => deviceIps([0, -1]), /not a device id/);
  });
});
