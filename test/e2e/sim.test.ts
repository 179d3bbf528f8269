import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { clusterFiles, simContext, simDown, sshOptions, type SimCluster } from '../../sim';
import { runDeploy } from '../helpers/cli';
import { waitFor } from '../helpers/waitFor';

/**
 * The simulated cluster end to end, as the tool will use it: `deploy sim up` of 3 hosts, strict
 * ssh, docker in each host, NPU tools, the engine simulator refusing bad launches and serving a
 * PD request (prefill on h1, a 2-rank decode on h2+h3), then `deploy sim down` leaving nothing.
 * Runs as its own instance (10.231.7.0/24) so an operator's cluster on instance 0 is untouched.
 */
const INSTANCE = process.env.SIM_TEST_INSTANCE ?? '7';
const ctx = simContext(Number(INSTANCE));
const env = { OMNI_SIM_INSTANCE: INSTANCE };
/** A launch chain and a ranktable tool in omniinfer's manner (our own), run in the engine image. */
const CHAIN = path.join(__dirname, '..', 'fixtures', 'pd-chain');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sh(cmd: string, args: string[], input = '', timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

const ssh = (address: string, command: string, input = '') =>
  sh('ssh', [...sshOptions(ctx), address, command], input);

async function sshOk(address: string, command: string, input = ''): Promise<string> {
  const r = await ssh(address, command, input);
  assert.equal(r.code, 0, `ssh ${address} ${command}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The parts of engine answers the test reads (OpenAI shapes plus the simulator's PD fields). */
interface Answer {
  message: string;
  object: string;
  data: { id: string }[];
  choices: { text: string }[];
  kv_transfer_params: { remote_host: string; remote_port: number; remote_kv_rank: number };
  omni_sim: { prefill: unknown; decode: { host: string } };
}

async function postJson(url: string, body: unknown): Promise<{ status: number; json: Answer; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'req-sim-test' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  let json = null as unknown as Answer;
  try {
    json = JSON.parse(text) as Answer;
  } catch {
    /* streamed */
  }
  return { status: res.status, json, text };
}

async function waitHealthy(url: string, ms = 20_000): Promise<void> {
  await waitFor(
    async () => {
      try {
        return (await fetch(url, { signal: AbortSignal.timeout(500) })).ok;
      } catch {
        return false; // not yet
      }
    },
    { timeout: ms, interval: 100, what: `${url} to be healthy` },
  );
}

/** What must be gone after `sim down`: namespaces, links, mounts, processes. */
function leftovers(netnsInodes: number[], pids: number[]): string[] {
  const out: string[] = [];
  const ns = fs.existsSync('/run/netns') ? fs.readdirSync('/run/netns') : [];
  out.push(...ns.filter((n) => n.startsWith(ctx.prefix)).map((n) => `netns ${n}`));
  out.push(
    ...fs
      .readdirSync('/sys/class/net')
      .filter((l) => l.startsWith(ctx.prefix))
      .map((l) => `link ${l}`),
  );
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (netnsInodes.includes(fs.statSync(`/proc/${p}/ns/net`).ino))
        out.push(`process ${p} in a host netns`);
      if (fs.readFileSync(`/proc/${p}/mountinfo`, 'utf8').includes(ctx.dir + '/hosts')) {
        out.push(`process ${p} sees a mount of a host disk`);
      }
    } catch {
      /* exited meanwhile */
    }
  }
  for (const pid of pids) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!/\) [ZX] /.test(stat)) out.push(`host init ${pid} still alive`);
    } catch {
      /* gone */
    }
  }
  return out;
}

describe('simulated cluster', { timeout: 240_000 }, () => {
  let cluster: SimCluster;
  let addr: string[];

  before(async () => {
    await simDown(ctx); // a clean slate even if an earlier run was killed mid-way
    const r = await runDeploy(['sim', 'up', '--hosts', '3', '--engine', 'podman', '--json'], env, 120_000);
    assert.equal(r.code, 0, r.stderr);
    cluster = JSON.parse(r.stdout) as SimCluster;
    addr = cluster.hosts.map((h) => h.address);
  });

  after(async () => {
    // Whatever happened above, nothing of this instance may survive the test run.
    await simDown(ctx);
  });

  it('brings 3 hosts up, idempotently, with a key and known_hosts for the tool', async () => {
    assert.deepEqual(
      cluster.hosts.map((h) => [h.name, h.address, h.state]),
      [
        ['h1', `${ctx.subnet}.11`, 'running'],
        ['h2', `${ctx.subnet}.12`, 'running'],
        ['h3', `${ctx.subnet}.13`, 'running'],
      ],
    );
    assert.equal(cluster.keyPath, clusterFiles(ctx).key);
    assert.equal(fs.readFileSync(cluster.knownHostsPath, 'utf8').trim().split('\n').length, 3);
    const again = await runDeploy(['sim', 'up', '--hosts', '3', '--engine', 'podman', '--json'], env, 60_000);
    assert.equal(again.code, 0, again.stderr);
    const pids = (JSON.parse(again.stdout) as SimCluster).hosts.map((h) => h.pid);
    assert.deepEqual(
      pids,
      cluster.hosts.map((h) => h.pid),
      'up again must not restart hosts',
    );
  });

  it('lets ssh in with strict host-key checking, and refuses an unknown host key', async () => {
    for (const h of cluster.hosts) {
      const out = await sshOk(h.address, 'hostname; ip -4 -o addr show eth0; ps -e -o pid=,comm= | head -1');
      assert.match(out, new RegExp(`^${h.name}\\n`));
      assert.match(out, new RegExp(`inet ${h.address.replace(/\./g, '\\.')}/24`));
      assert.match(out, /^\s*1 sshd$/m, 'sshd is PID 1 of the host');
    }
    const empty = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'omd-kh-')), 'known_hosts');
    fs.writeFileSync(empty, '');
    const opts = sshOptions(ctx).map((o) =>
      o.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${empty}` : o,
    );
    const r = await sh('ssh', [...opts, addr[0]!, 'true']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Host key verification failed/);
    fs.rmSync(path.dirname(empty), { recursive: true });
  });

  it('runs docker run/exec/cp/logs/rm in each host; each host sees only its own containers and files', async () => {
    await Promise.all(
      cluster.hosts.map(async (h) => {
        await sshOk(
          h.address,
          `echo ${h.name} > /tmp/marker && docker run -d --init --name web-${h.name} --net=host ` +
            `-v /tmp/marker:/marker:ro ${cluster.images.engine} sleep infinity`,
        );
        const out = await sshOk(h.address, `docker exec web-${h.name} cat /marker`);
        assert.equal(out.trim(), h.name);
      }),
    );
    for (const h of cluster.hosts) {
      const names = await sshOk(h.address, "docker ps --format '{{.Names}}'");
      assert.deepEqual(names.trim().split('\n'), [`web-${h.name}`]);
      assert.equal((await sshOk(h.address, 'cat /tmp/marker')).trim(), h.name);
      await sshOk(
        h.address,
        `docker cp /etc/hostname web-${h.name}:/copied && docker exec web-${h.name} cat /copied`,
      );
      await sshOk(h.address, `docker pull ${cluster.images.engine}`);
      await sshOk(h.address, `docker logs web-${h.name}`);
    }
    await Promise.all(cluster.hosts.map((h) => sshOk(h.address, `docker rm -f -t 0 web-${h.name}`)));
    for (const h of cluster.hosts) {
      assert.equal((await sshOk(h.address, "docker ps -a --format '{{.Names}}'")).trim(), '');
    }
  });

  it('docker run creates a missing bind-mount host folder as Docker does; podman alone refuses', async () => {
    const h = cluster.hosts[0]!.address;
    const image = cluster.images.engine;
    const bare = await ssh(h, `podman run --rm -v /srv/by-podman:/out ${image} true`);
    assert.notEqual(bare.code, 0, 'podman refuses a missing source');
    await sshOk(h, `docker run --rm -v /srv/by-docker/log:/out ${image} sh -c 'echo inside > /out/file'`);
    assert.equal((await sshOk(h, 'cat /srv/by-docker/log/file')).trim(), 'inside');
    await sshOk(h, 'rm -rf /srv/by-docker');
  });

  it("answers hccn_tool per device from each host's own table, IPs unique across the cluster", async () => {
    const seen = new Set<string>();
    for (const h of cluster.hosts) {
      const out = await sshOk(
        h.address,
        'for i in $(seq 0 15); do hccn_tool -i $i -ip -g | head -1; done; npu-smi info | grep -c 910C',
      );
      const lines = out.trim().split('\n');
      assert.equal(lines.pop(), '16');
      assert.equal(lines.length, 16);
      lines.forEach((l, i) => {
        const octet = h.address.split('.')[3];
        assert.equal(l, `ipaddr:192.168.${octet}.${100 + i}`);
        assert.ok(!seen.has(l), `duplicate ${l}`);
        seen.add(l);
      });
    }
    const r = await runDeploy(
      ['sim', 'devices', 'h3', '--without-ip', '5', '--set-ip', `6=192.168.11.100`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const five = await ssh(addr[2]!, 'hccn_tool -i 5 -ip -g');
    assert.notEqual(five.code, 0);
    assert.match(five.stderr, /ip address is not configured/);
    assert.equal(await sshOk(addr[2]!, 'hccn_tool -i 6 -ip -g | head -1'), 'ipaddr:192.168.11.100\n');
    assert.equal((await ssh(addr[2]!, 'hccn_tool -i 16 -ip -g')).code, 1);
    await runDeploy(['sim', 'devices', 'h3'], env);
  });

  describe('engine simulator', () => {
    // P: h1 devices 0,1 (kv_rank 0). D: one instance over h2 + h3, one device and DP rank each,
    // DP master h2:8100. The seed's container flags and bind mounts, ranktables as §4 lays out.
    const [p, d0, d1] = ['11', '12', '13'].map((o) => `${ctx.subnet}.${o}`) as [string, string, string];
    const dev = (o: string, id: number, rank: number) => ({
      device_id: String(id),
      device_ip: `192.168.${o}.${100 + id}`,
      rank_id: String(rank),
    });
    const server = (ip: string, devices: object[]) => ({ server_id: ip, server_ip: ip, device: devices });
    const localP = {
      version: '1.0',
      status: 'completed',
      group_id: '0',
      server_count: '1',
      server_list: [server(p, [dev('11', 0, 0), dev('11', 1, 1)])],
    };
    const localD = {
      version: '1.0',
      status: 'completed',
      group_id: '0',
      server_count: 2,
      server_list: [server(d0, [dev('12', 0, 0)]), server(d1, [dev('13', 0, 1)])],
    };
    const global = {
      version: '1.0',
      status: 'completed',
      server_group_list: [
        { group_id: '0', server_count: 1, server_list: localP.server_list },
        { group_id: '1', server_count: 2, server_list: localD.server_list },
      ],
    };
    const mounts =
      '-v /data:/data -v /tmp:/tmp -v /usr/local/Ascend/driver:/usr/local/Ascend/driver -v /usr/local/dcmi:/usr/local/dcmi ' +
      '-v /usr/local/bin/npu-smi:/usr/local/bin/npu-smi -v /etc/ascend_install.info:/etc/ascend_install.info ' +
      '-v /usr/local/sbin:/usr/local/sbin -v /etc/hccn.conf:/etc/hccn.conf -v /usr/bin/hccn_tool:/usr/bin/hccn_tool ' +
      '-v /usr/share/zoneinfo/Asia/Shanghai:/etc/localtime';
    const kv = (role: string, rank: number, size = 2) =>
      `'${JSON.stringify({ kv_connector: 'AscendHcclConnectorV1', kv_buffer_device: 'npu', kv_role: role, kv_rank: rank, engine_id: rank, kv_parallel_size: size })}'`;
    const prefillEnv =
      'RANK_TABLE_FILE_PATH=/tmp/rt/local_p.json GLOBAL_RANK_TABLE_FILE_PATH=/tmp/rt/global.json ' +
      `ASCEND_RT_VISIBLE_DEVICES=0,1 ROLE=prefill PREFILL_POD_NUM=1 VLLM_DP_SIZE=1 VLLM_DP_RANK=0 VLLM_DP_MASTER_IP=${p} VLLM_DP_MASTER_PORT=8000 SIM_ENGINE_START_DELAY=0.3`;
    const serve = (port: number, extra: string) =>
      `vllm serve /data/models/sim-model --trust-remote-code --gpu-memory-utilization 0.9 --block_size 128 ` +
      `--port ${port} --served-model-name deepseek --max-model-len 4096 ${extra}`;
    const prefillCmd = (rank: number, size = 2) =>
      `env ${prefillEnv} ${serve(9000, `--tensor-parallel-size 2 --data-parallel-size 1 --data-parallel-address ${p} --data-parallel-rpc-port 8000 --kv-transfer-config ${kv('kv_producer', rank, size)} --enforce-eager --max-num-seqs 16`)}`;
    const decodeCmd = (rank: number, host: string, port: number) =>
      `env RANK_TABLE_FILE_PATH=/tmp/rt/local_d.json GLOBAL_RANK_TABLE_FILE_PATH=/tmp/rt/global.json ` +
      `LOCAL_DECODE_SERVER_IP_LIST=${d0},${d1} GLOBAL_DECODE_SERVER_IP_LIST=${d0},${d1} ROLE=decode PREFILL_POD_NUM=1 DECODE_POD_NUM=2 ` +
      `VLLM_DP_SIZE=2 VLLM_DP_RANK=${rank} VLLM_DP_RANK_LOCAL=${rank} SERVER_OFFSET=${rank} VLLM_DP_MASTER_IP=${d0} VLLM_DP_MASTER_PORT=8100 ` +
      `SIM_ENGINE_DP_TIMEOUT=20 ${serve(port, `--tensor-parallel-size 1 --data-parallel-size 1 --data-parallel-address ${d0} --data-parallel-rpc-port 8100 --kv-transfer-config ${kv('kv_consumer', 1)} --max-num-seqs 32`)}`;
    const execD = (address: string, cmd: string, log: string) =>
      sshOk(address, `docker exec -d eng bash -c ${JSON.stringify(`${cmd} > /data/log/${log} 2>&1`)}`);

    before(async () => {
      await Promise.all(
        cluster.hosts.map(async (h) => {
          await sshOk(
            h.address,
            `mkdir -p /tmp/rt /data/log && docker run -it -d --init --name eng --shm-size=1g --net=host ` +
              `--privileged=true -u root -w /data --entrypoint=bash --device /dev/davinci_manager --device /dev/hisi_hdc ` +
              `--device /dev/devmm_svm ${mounts} ${cluster.images.engine}`,
          );
          for (const [file, content] of [
            ['local_p.json', localP],
            ['local_d.json', localD],
            ['global.json', global],
          ] as const) {
            await sshOk(h.address, `cat > /tmp/rt/${file}`, JSON.stringify(content, null, 4));
          }
        }),
      );
    });

    it('refuses launches the real engine would refuse, with its kind of message', async () => {
      const cases: [string, string, RegExp][] = [
        [p, `docker exec eng ${prefillCmd(1)}`, /kv_rank=1 but .* is prefill group 0/],
        [
          p,
          `docker exec eng ${prefillCmd(0, 3)}`,
          /kv_parallel_size=3 but the global ranktable has 2 server groups/,
        ],
        [d1, `docker exec eng ${prefillCmd(0)}`, /NOT in local_ranktable/],
        [
          p,
          `docker exec eng ${prefillCmd(0).replace('/tmp/rt/global.json', '/tmp/rt/nope.json')}`,
          /FileNotFoundError: .*nope\.json/,
        ],
        [
          p,
          `docker exec eng ${prefillCmd(0).replace('ASCEND_RT_VISIBLE_DEVICES=0,1', 'ASCEND_RT_VISIBLE_DEVICES=0,7')}`,
          /device 7 .* is NOT in local_ranktable/,
        ],
        [
          p,
          `docker exec eng ${prefillCmd(0).replace('/data/models/sim-model', '/data/models/missing')}`,
          /Invalid repository ID or local directory specified: '\/data\/models\/missing'/,
        ],
        [
          p,
          `docker exec eng ${serve(9000, '--bogus-flag 1')}`,
          /vllm serve: error: unrecognized arguments: --bogus-flag 1/,
        ],
        [
          d1,
          `docker exec eng ${decodeCmd(1, d1, 9101).replace('SIM_ENGINE_DP_TIMEOUT=20', 'SIM_ENGINE_DP_TIMEOUT=1')}`,
          /timed out .* trying to connect to \(10\.231\.\d+\.12, 8100\)/,
        ],
      ];
      for (const [host, cmd, expected] of cases) {
        const r = await ssh(host, cmd);
        assert.notEqual(r.code, 0, `should have been refused: ${cmd}`);
        assert.match(r.stderr, expected);
      }
    });

    it('serves a good launch: prefill then decode, with PD semantics', async () => {
      await execD(d0, decodeCmd(0, d0, 9100), 'decode0.log');
      await execD(d1, decodeCmd(1, d1, 9101), 'decode1.log');
      await execD(p, prefillCmd(0), 'prefill.log');
      await Promise.all([
        waitHealthy(`http://${p}:9000/health`),
        waitHealthy(`http://${d0}:9100/health`),
        waitHealthy(`http://${d1}:9101/health`),
      ]);
      assert.match(await sshOk(p, 'cat /data/log/prefill.log'), /Application startup complete\./);

      // The port is taken now: a second launch must say so.
      const busy = await ssh(p, `docker exec eng ${prefillCmd(0)}`);
      assert.match(busy.stderr, /address already in use/);

      const models = await (await fetch(`http://${p}:9000/v1/models`)).json();
      assert.equal((models as Answer).data[0]!.id, 'deepseek');

      const body = { model: 'deepseek', prompt: 'hello world', max_tokens: 5 };
      const pre = await postJson(`http://${p}:9000/v1/completions`, {
        ...body,
        max_tokens: 1,
        stream: false,
      });
      assert.equal(pre.status, 200, pre.text);
      const params = pre.json.kv_transfer_params;
      assert.equal(params.remote_host, p);
      assert.equal(params.remote_port, 9000);
      assert.equal(params.remote_kv_rank, 0);

      const noParams = await postJson(`http://${d0}:9100/v1/completions`, body);
      assert.equal(noParams.status, 400);
      assert.match(noParams.json.message, /needs kv_transfer_params/);
      const stranger = await postJson(`http://${d0}:9100/v1/completions`, {
        ...body,
        kv_transfer_params: { ...params, remote_host: '10.9.9.9' },
      });
      assert.equal(stranger.status, 400);

      for (const [host, port, dpRank] of [
        [d0, 9100, 0],
        [d1, 9101, 1],
      ] as const) {
        const dec = await postJson(`http://${host}:${port}/v1/completions`, {
          ...body,
          kv_transfer_params: params,
        });
        assert.equal(dec.status, 200, dec.text);
        assert.equal(dec.json.choices[0]!.text.split(' tok').length, 5);
        assert.deepEqual(dec.json.omni_sim.prefill, {
          host: p,
          port: 9000,
          kv_rank: 0,
          engine_id: '0',
          dp_rank: 0,
        });
        assert.deepEqual(dec.json.omni_sim.decode, {
          host,
          port,
          kv_rank: 1,
          engine_id: '1',
          dp_rank: dpRank,
        });
        assert.match(
          dec.json.choices[0]!.text,
          new RegExp(`prefill ${p}:9000 kv_rank 0 -> decode ${host}:${port}`),
        );
      }

      const chat = await postJson(`http://${d1}:9101/v1/chat/completions`, {
        model: 'deepseek',
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 3,
        stream: true,
        kv_transfer_params: params,
      });
      assert.equal(chat.status, 200);
      const events = chat.text.trim().split('\n\n');
      assert.equal(events.at(-1), 'data: [DONE]');
      const first = JSON.parse(events[0]!.slice('data: '.length));
      assert.equal(first.object, 'chat.completion.chunk');
      assert.equal(first.omni_sim.decode.host, d1);
    });

    it('runs Python in the engine container: an omniinfer-style ranktable tool reads the simulated hccn_tool', async () => {
      // `python` is Debian's python3 under omniinfer's name for it; the tool runs in the container
      // (its /tmp is the host's) against the hccn_tool bind-mounted from the host, as the seed's
      // `python …/pd_ranktable_tools.py --mode gen` does.
      for (const h of [p, d0, d1]) {
        await sshOk(h, 'mkdir -p /tmp/chain');
        for (const file of fs.readdirSync(CHAIN)) {
          await sshOk(h, `cat > /tmp/chain/${file}`, fs.readFileSync(path.join(CHAIN, file), 'utf8'));
        }
      }
      assert.match(await sshOk(p, 'docker exec eng python --version'), /^Python 3\.\d+/);
      assert.equal(
        (await sshOk(p, 'docker exec eng readlink -f /usr/bin/python')).trim(),
        (await sshOk(p, 'docker exec eng readlink -f /usr/bin/python3')).trim(),
      );
      const gen = (h: string, devices: string) =>
        sshOk(
          h,
          `docker exec eng python /tmp/chain/ranktable_tool.py gen --devices ${devices} --ip ${h} --save-dir /tmp/gen ` +
            (h === p ? '--api-server' : ''),
        );
      assert.equal((await gen(p, '0,1')).trim(), `/tmp/gen/local_ranktable_${p}_01.json`);
      await gen(d0, '0');
      await gen(d1, '0');
      // The devices' IPs are what hccn_tool answers on each host (not the formula this test assumes).
      const local = JSON.parse(await sshOk(p, `cat /tmp/gen/local_ranktable_${p}_01.json`));
      for (const d of local.server_list[0].device) {
        const out = await sshOk(p, `hccn_tool -i ${d.device_id} -ip -g`);
        assert.equal(d.device_ip, /ipaddr:(\S+)/.exec(out)![1]);
      }
      assert.deepEqual(local, localP);
      for (const h of [d0, d1]) {
        await sshOk(
          p,
          `cat > /tmp/gen/d-${h}.json`,
          await sshOk(h, `cat /tmp/gen/local_ranktable_${h}_0.json`),
        );
      }
      const merged = await sshOk(
        p,
        `docker exec eng python /tmp/chain/ranktable_tool.py merge --prefill /tmp/gen/local_ranktable_${p}_01.json ` +
          `--decode /tmp/gen/d-${d0}.json /tmp/gen/d-${d1}.json --save-dir /tmp/gen`,
      );
      assert.equal(merged.trim(), '/tmp/gen/global_ranktable_merge.json');
      assert.deepEqual(JSON.parse(await sshOk(p, 'cat /tmp/gen/global_ranktable_merge.json')), global);
      // hccn_tool's refusal reaches the tool as an exit status with its message.
      const bad = await ssh(
        p,
        'docker exec eng python /tmp/chain/ranktable_tool.py gen --devices 0,99 --save-dir /tmp/gen',
      );
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /hccn_tool -i 99 -ip -g failed/);
    });

    it('launches through a pd_run.sh-style chain: pd_run.sh → start_api_servers.py → vllm serve', async () => {
      // The prefill of §6.1 with this cluster's ranktables (generated above), on its own API port:
      // the arguments the seed passes to pd_run.sh, which builds the KV transfer config and the
      // environment and hands over to start_api_servers.py, which starts `vllm serve`.
      const chain = [
        'bash /tmp/chain/pd_run.sh',
        '--global-rank-table-path /tmp/gen/global_ranktable_merge.json',
        `--rank-table-path /tmp/gen/local_ranktable_${p}_01.json`,
        `--local-decode-server-ip-list ${d0},${d1} --global-decode-server-ip-list ${d0},${d1}`,
        '--prefill-pod-num 1 --gloo-socket-ifname eth0 --tp-socket-ifname eth0',
        `--model-path /data/models/sim-model --master-ip ${p} --role prefill --kv-role kv_producer`,
        '--max-model-len 4096 --master-port 8010 --base-api-port 9010 --tp 2',
        '--ascend-rt-visible-devices 0,1 --kv-rank 0 --kv-engine-id 0 --kv-parallel-size 2',
        '--model-extra-cfg-path /tmp/chain/none.json --gpu-util 0.92 --vllm-enable-mc2 1',
        "--extra-args '--max-num-batched-tokens 30000 --enforce-eager --enable-expert-parallel --disable-log-requests --max-num-seqs 16'",
        '--hccl-buffsize 0 --hccl-op-expansion-mode AIV --log-dir /data/log/chain',
      ].join(' ');
      await sshOk(
        p,
        `docker exec -d eng bash -c ${JSON.stringify(`${chain} > /data/log/run_prefill.log 2>&1`)}`,
      );
      try {
        await waitHealthy(`http://${p}:9010/health`);
        const started = await sshOk(p, 'cat /data/log/run_prefill.log');
        const line = /^rank 0 on port 9010: (.*)$/m.exec(started);
        assert.ok(line, started);
        assert.equal(
          line[1],
          `vllm serve /data/models/sim-model --trust-remote-code --gpu-memory-utilization 0.92 --block_size 128 ` +
            `--tensor-parallel-size 2 --data-parallel-size 1 --data-parallel-size-local 1 --data-parallel-address ${p} ` +
            `--data-parallel-rpc-port 8010 --port 9010 --served-model-name deepseek --max-model-len 4096 ` +
            `--kv-transfer-config '{"kv_connector": "AscendHcclConnectorV1", "kv_buffer_device": "npu", "kv_role": "kv_producer", "kv_rank": 0, "engine_id": 0, "kv_parallel_size": 2}' ` +
            '--max-num-batched-tokens 30000 --enforce-eager --enable-expert-parallel --disable-log-requests --max-num-seqs 16',
        );
        assert.match(await sshOk(p, 'cat /data/log/chain/server_0.log'), /Application startup complete\./);
        // A PD request through it: the decode instance started above accepts its KV transfer.
        const body = { model: 'deepseek', prompt: 'via the chain', max_tokens: 3 };
        const pre = await postJson(`http://${p}:9010/v1/completions`, {
          ...body,
          max_tokens: 1,
          stream: false,
        });
        assert.equal(pre.status, 200, pre.text);
        assert.equal(pre.json.kv_transfer_params.remote_port, 9010);
        const dec = await postJson(`http://${d0}:9100/v1/completions`, {
          ...body,
          kv_transfer_params: pre.json.kv_transfer_params,
        });
        assert.equal(dec.status, 200, dec.text);
        assert.match(
          dec.json.choices[0]!.text,
          new RegExp(`prefill ${p}:9010 kv_rank 0 -> decode ${d0}:9100`),
        );
      } finally {
        // The engine on 9010; start_api_servers.py exits when one of its servers does.
        await ssh(p, "docker exec eng pkill -f -- '--port 9010 '");
      }
    });

    it('refuses, as vLLM does, values its argument parser and config classes refuse', async () => {
      const cases: [string, RegExp][] = [
        [
          '--block-size 7',
          /argument --block-size: invalid choice: '7' \(choose from '1', '8', '16', '32', '64', '128'\)/,
        ],
        ['--dtype fp4', /argument --dtype: invalid choice: 'fp4'/],
        [
          `--kv-transfer-config '{"kv_connector":"AscendHcclConnectorV1","kv_role":"kv_producer","kv_rnak":0}'`,
          /KVTransferConfig.__init__\(\) got an unexpected keyword argument 'kv_rnak'/,
        ],
        ['--gpu-memory-utilization 1.5', /GPU memory utilization must be less than 1\.0\. Got 1\.5/],
        [
          '--max-model-len 999999',
          /User-specified max_model_len \(999999\) is greater than the derived max_model_len/,
        ],
        [
          `--speculative-config '{"method":"deepseek_mtp","num_speculative_tokens":0}'`,
          /num_speculative_tokens must be a positive integer/,
        ],
      ];
      for (const [extra, expected] of cases) {
        const r = await ssh(p, `docker exec eng ${serve(9320, extra)}`);
        assert.notEqual(r.code, 0, `should have been refused: ${extra}`);
        assert.match(r.stderr, expected);
      }
    });

    it('docker stop of a --entrypoint=bash container waits out its timeout and kills it, quietly, as Docker does', async () => {
      await sshOk(p, `docker run -itd --name stopme --entrypoint=bash ${cluster.images.engine}`);
      const t0 = Date.now();
      const r = await ssh(p, 'docker stop -t 2 stopme');
      const took = Date.now() - t0;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, 'stopme\n');
      assert.equal(r.stderr, '', 'Docker prints nothing on stderr when it resorts to SIGKILL');
      assert.ok(took >= 2000, `bash ignores SIGTERM: stop waits its timeout (took ${took} ms)`);
      assert.equal(
        (await sshOk(p, "docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' stopme")).trim(),
        'exited 137',
      );
      assert.equal(await sshOk(p, 'docker exec -d eng true'), '', '`docker exec -d` prints nothing');
      await sshOk(p, 'docker rm stopme');
    });

    it('obeys the start and slowness fault knobs', async () => {
      const die = await ssh(p, `docker exec -e SIM_ENGINE_FAULT=die-at-start eng ${serve(9300, '')}`);
      assert.equal(die.code, 1);
      assert.match(die.stderr, /simulated engine failure during start-up/);
      // hang-at-start: the port is bound but never answers; busybox `timeout` ends it (SIGTERM).
      const hang = await ssh(
        p,
        `docker exec -e SIM_ENGINE_FAULT=hang-at-start eng timeout 2 ${serve(9301, '')} & sleep 1; ` +
          `curl -s -m 0.5 -o /dev/null -w '%{http_code}' http://127.0.0.1:9301/health; wait $!`,
      );
      assert.equal(hang.code, 143, hang.stderr);
      assert.match(hang.stdout, /hang-at-start\)\n000$/);
      await sshOk(
        p,
        `docker exec -d eng bash -c "SIM_ENGINE_SLOW_MS=400 ${serve(9302, '')} > /data/log/slow.log 2>&1"`,
      );
      await waitHealthy(`http://${p}:9302/health`);
      const t0 = Date.now();
      const r = await postJson(`http://${p}:9302/v1/completions`, {
        model: 'deepseek',
        prompt: 'x',
        max_tokens: 2,
      });
      assert.equal(r.status, 200);
      assert.equal(r.json.omni_sim.decode, null);
      assert.ok(Date.now() - t0 >= 400, 'slow answer');
    });

    it('has a ray CLI whose workers join only a running head', async () => {
      const early = await ssh(d1, `docker exec eng ray start --address=${p}:6379`);
      assert.notEqual(early.code, 0);
      assert.match(early.stderr, /Unable to connect to GCS/);
      assert.match(await sshOk(p, 'docker exec eng ray start --head --num-gpus=16'), /Ray runtime started/);
      assert.match(
        await sshOk(d1, `docker exec eng ray start --address=${p}:6379 --num-gpus=16`),
        /Ray runtime started/,
      );
      // Ray's own layouts: one `node_…` line per active node; `list nodes` with their addresses.
      const status = await sshOk(p, 'docker exec eng ray status');
      assert.equal(status.match(/^ 1 node_[0-9a-f]{56}$/gm)?.length, 2, status);
      assert.match(status, /^ 0\.0\/32\.0 GPU$/m);
      const nodes = await sshOk(p, 'docker exec eng ray list nodes --filter state=ALIVE');
      assert.match(nodes, new RegExp(`${p.replace(/\./g, '\\.')} +True +ALIVE`));
      assert.match(nodes, new RegExp(`${d1.replace(/\./g, '\\.')} +False +ALIVE`));
      assert.match(await sshOk(d1, 'docker exec eng ray stop'), /Stopped all 1 Ray processes/);
      await sshOk(p, 'docker exec eng ray stop');
      assert.notEqual((await ssh(p, 'docker exec eng ray status')).code, 0);
    });

    it('with the Ray backend waits for its placement group as vLLM does, and gives up with its message', async () => {
      // One bundle per NPU of TP 2: a head with one GPU cannot place them until another node joins.
      const engine = (port: number, timeout: number) =>
        `env ${prefillEnv} SIM_ENGINE_PG_TIMEOUT=${timeout} ${serve(port, `--tensor-parallel-size 2 --kv-transfer-config ${kv('kv_producer', 0)} --distributed-executor-backend ray`)}`;
      await sshOk(p, 'docker exec eng ray start --head --num-gpus=1');
      try {
        const alone = await ssh(p, `docker exec eng ${engine(9310, 2)}`);
        assert.equal(alone.code, 1);
        assert.match(
          alone.stderr,
          new RegExp(
            `ValueError: Cannot provide a placement group of placement_group_specs=\\[\\{'GPU': 1\\.0, 'node:${p.replace(/\./g, '\\.')}': 0\\.001\\}, \\{'GPU': 1\\.0\\}\\] within 2 seconds`,
          ),
        );
        await sshOk(
          p,
          `docker exec -d eng bash -c ${JSON.stringify(`${engine(9311, 60)} > /data/log/pg.log 2>&1`)}`,
        );
        await new Promise((res) => setTimeout(res, 1500));
        await sshOk(d1, `docker exec eng ray start --address=${p}:6379 --num-gpus=1`);
        await waitHealthy(`http://${p}:9311/health`);
        assert.match(
          await sshOk(p, 'cat /data/log/pg.log'),
          /placement group ready after \d+ seconds: 2 node\(s\), 2 GPU\(s\)/,
        );
      } finally {
        await ssh(d1, 'docker exec eng ray stop');
        await ssh(p, 'docker exec eng ray stop');
      }
    });

    it('stops serving when a fault knob says so (die after N requests)', async () => {
      await sshOk(p, 'echo SIM_ENGINE_DIE_AFTER@9000=1 > /data/omni-sim/engine.env');
      const r = await postJson(`http://${p}:9000/v1/completions`, {
        model: 'deepseek',
        prompt: 'x',
        max_tokens: 1,
      });
      assert.equal(r.status, 200);
      const until = Date.now() + 5000;
      let dead = false;
      while (!dead && Date.now() < until) {
        dead = await fetch(`http://${p}:9000/health`, { signal: AbortSignal.timeout(300) }).then(
          () => false,
          () => true,
        );
        if (!dead) await new Promise((res) => setTimeout(res, 100));
      }
      assert.ok(dead, 'the prefill should have died after its next request');
      assert.match(await sshOk(p, 'cat /data/log/prefill.log'), /EngineDeadError/);
    });
  });

  it('pulls and plugs a link, powers off and reboots a host with its disk kept', async () => {
    const unreachable = async (address: string) =>
      (await sh('ssh', [...sshOptions(ctx), '-o', 'ConnectTimeout=2', address, 'true'], '', 15_000)).code !==
      0;
    const stateOf = async (name: string) =>
      (JSON.parse((await runDeploy(['sim', 'status', '--json'], env)).stdout) as SimCluster).hosts.find(
        (h) => h.name === name,
      )!;

    assert.equal((await runDeploy(['sim', 'link', 'down', 'h2'], env)).code, 0);
    assert.equal((await stateOf('h2')).link, 'down');
    assert.ok(await unreachable(addr[1]!), 'h2 must be unreachable with its link down');
    assert.equal((await runDeploy(['sim', 'link', 'up', 'h2'], env)).code, 0);
    await sshOk(addr[1]!, 'true');

    await sshOk(
      addr[2]!,
      `echo kept > /data/disk-marker && docker run -d --init --name survivor ${cluster.images.engine} sleep infinity`,
    );
    const pidBefore = (await stateOf('h3')).pid;
    assert.equal((await runDeploy(['sim', 'poweroff', 'h3'], env)).code, 0);
    const off = await stateOf('h3');
    assert.equal(off.state, 'off');
    assert.equal(off.pid, null);
    assert.ok(await unreachable(addr[2]!), 'h3 must be unreachable when powered off');

    const reboot = await runDeploy(['sim', 'reboot', 'h3'], env, 60_000);
    assert.equal(reboot.code, 0, reboot.stderr);
    const on = await stateOf('h3');
    assert.equal(on.state, 'running');
    assert.notEqual(on.pid, pidBefore);
    assert.equal((await sshOk(addr[2]!, 'cat /data/disk-marker')).trim(), 'kept');
    assert.match(
      await sshOk(addr[2]!, "docker ps -a --format '{{.Names}} {{.Status}}'"),
      /survivor (Exited|Created)/,
    );
    await sshOk(addr[2]!, 'docker start survivor && docker exec survivor true && docker rm -f -t 0 survivor');
  });

  it('sim down leaves no namespace, link, mount or process behind', async () => {
    const status = JSON.parse((await runDeploy(['sim', 'status', '--json'], env)).stdout) as SimCluster;
    const pids = status.hosts.map((h) => h.pid).filter((x): x is number => x !== null);
    const inodes = status.hosts.map((h) => fs.statSync(`/run/netns/${h.netns}`).ino);
    assert.equal(pids.length, 3);
    const r = await runDeploy(['sim', 'down'], env, 60_000);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(leftovers(inodes, pids), []);
    assert.ok(!fs.existsSync(path.join(ctx.dir, 'hosts')), 'host disks removed');
  });
});
