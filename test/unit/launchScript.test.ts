import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  renderLaunchScript,
  renderStopScript,
  stopSpecFor,
  type EngineLaunchSpec,
} from '../../src/plan/launch';
import { shellQuote } from '../../src/shared/shellQuote';
import { assertGolden } from '../helpers/golden';
import { DECODE_D0, DECODE_D1, PREFILL_HEAD_P0, PREFILL_P0, PREFILL_WORKER_P1 } from './launchLayouts';

const SCRIPTS: Record<string, string> = {
  '2P1D/prefill-p0.sh': renderLaunchScript(PREFILL_P0),
  '2P1D/decode-d0.sh': renderLaunchScript(DECODE_D0),
  '2P1D/decode-d1.sh': renderLaunchScript(DECODE_D1),
  'multi-node-prefill/head-p0.sh': renderLaunchScript(PREFILL_HEAD_P0),
  'multi-node-prefill/worker-p1.sh': renderLaunchScript(PREFILL_WORKER_P1),
  'stop.sh': renderStopScript(stopSpecFor(DECODE_D0)),
  'stop-ray.sh': renderStopScript(stopSpecFor(PREFILL_WORKER_P1, 60)),
};

function bashSyntaxError(script: string): string | null {
  const r = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  return r.status === 0 ? null : r.stderr;
}

function exported(script: string, name: string): string | undefined {
  const line = script.split('\n').find((l) => l.startsWith(`export ${name}=`));
  return line?.slice(`export ${name}=`.length);
}

describe('launch scripts: golden files and syntax', () => {
  for (const [name, script] of Object.entries(SCRIPTS)) {
    it(`${name} matches its golden copy and passes bash -n`, () => {
      assertGolden(`launch/${name}`, script);
      assert.equal(bashSyntaxError(script), null);
    });
  }
});

describe('launch scripts: key lines', () => {
  const p0 = SCRIPTS['2P1D/prefill-p0.sh']!;
  const d0 = SCRIPTS['2P1D/decode-d0.sh']!;
  const d1 = SCRIPTS['2P1D/decode-d1.sh']!;

  it('prefill pins its 16 devices; decode does not set ASCEND_RT_VISIBLE_DEVICES at all', () => {
    assert.equal(exported(p0, 'ASCEND_RT_VISIBLE_DEVICES'), '0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15');
    assert.doesNotMatch(d0, /ASCEND_RT_VISIBLE_DEVICES/);
    assert.doesNotMatch(d1, /ASCEND_RT_VISIBLE_DEVICES/);
  });

  it('exports the seed environment: ranktables, IP lists, role, pod counts, one HCCL_EXEC_TIMEOUT', () => {
    assert.equal(exported(p0, 'RANK_TABLE_FILE_PATH'), PREFILL_P0.ranktable.localPath);
    assert.equal(
      exported(d0, 'GLOBAL_RANK_TABLE_FILE_PATH'),
      '/tmp/ranktable_save_path/global/global_ranktable_merge.json',
    );
    for (const s of [p0, d0, d1]) {
      assert.equal(exported(s, 'LOCAL_DECODE_SERVER_IP_LIST'), '10.0.0.3,10.0.0.4');
      assert.equal(exported(s, 'GLOBAL_DECODE_SERVER_IP_LIST'), '10.0.0.3,10.0.0.4');
      assert.equal(exported(s, 'PREFILL_POD_NUM'), '2');
      assert.equal(exported(s, 'DECODE_POD_NUM'), '2');
      assert.equal(exported(s, 'VLLM_USE_V1'), '1');
      assert.equal(exported(s, 'GLOO_SOCKET_IFNAME'), '"$socket_ifname"');
      assert.equal(exported(s, 'TP_SOCKET_IFNAME'), '"$socket_ifname"');
      assert.equal(s.match(/HCCL_EXEC_TIMEOUT=/g)?.length, 1);
      assert.equal(exported(s, 'HCCL_EXEC_TIMEOUT'), '1800');
    }
    assert.equal(exported(p0, 'ROLE'), 'prefill');
    assert.equal(exported(d0, 'ROLE'), 'decode');
    assert.equal(exported(d0, 'HCCL_BUFFSIZE'), '1000');
    assert.equal(exported(p0, 'HCCL_BUFFSIZE'), undefined);
    assert.equal(exported(d1, 'SERVER_OFFSET'), '16');
  });

  it('per-rank environment and exact ports: d0 ranks 0-15 on 9100-9115, d1 ranks 16-31 on 9101-9116', () => {
    for (let i = 0; i < 16; i++) {
      assert.ok(d0.includes(`\nstart_server ${i} ${9100 + i} ${i}\n`), `d0 rank ${i}`);
      assert.ok(d1.includes(`\nstart_server ${i} ${9101 + i} ${16 + i}\n`), `d1 rank ${i}`);
    }
    assert.equal(d0.match(/^start_server \d/gm)?.length, 16);
    const dpEnv =
      'VLLM_DP_SIZE=32 VLLM_DP_RANK="$dp_rank" VLLM_DP_RANK_LOCAL="$dp_rank" VLLM_DP_MASTER_IP=10.0.0.3 VLLM_DP_MASTER_PORT=8100';
    assert.ok(d0.includes(dpEnv) && d1.includes(dpEnv));
    assert.ok(p0.includes('VLLM_DP_SIZE=1 VLLM_DP_RANK="$dp_rank"'));
    assert.ok(p0.includes('\nstart_server 0 9000 0\n'));
    assert.ok(d0.includes('setsid vllm "${vllm_args[@]}" --port "$port" >>"$log" 2>&1 </dev/null &'));
  });

  it('vllm serve command line with the kv-transfer-config JSON, extra args and additional config', () => {
    const p0Args =
      "vllm_args=(serve /data/models/DeepSeek-R1-w8a8-fusion --trust-remote-code --gpu-memory-utilization 0.92 --block_size 128 --tensor-parallel-size 16 --data-parallel-size 1 --data-parallel-size-local 1 --data-parallel-address 10.0.0.1 --data-parallel-rpc-port 8000 --served-model-name deepseek --max-model-len 32000 --kv-transfer-config '" +
      '{"kv_connector":"AscendHcclConnectorV1","kv_buffer_device":"npu","kv_role":"kv_producer","kv_rank":0,"engine_id":0,"kv_parallel_size":3}' +
      "' --max-num-batched-tokens 30000 --enforce-eager --enable-expert-parallel --disable-log-requests --max-num-seqs 16)";
    assert.ok(p0.includes(`\n${p0Args}\n`));
    assert.ok(
      d1.includes(
        `--kv-transfer-config '{"kv_connector":"AscendHcclConnectorV1","kv_buffer_device":"npu","kv_role":"kv_consumer","kv_rank":2,"engine_id":2,"kv_parallel_size":3}'`,
      ),
    );
    assert.ok(
      d1.includes(`--max-num-seqs 32 --additional-config '{"graph_model_compile_config":{"level":1}}')`),
    );
    assert.ok(d1.includes('--tensor-parallel-size 1 '));
  });

  it('multi-node prefill: the head starts Ray and the server through the group wait, the worker only joins, bounded', () => {
    const head = SCRIPTS['multi-node-prefill/head-p0.sh']!;
    const worker = SCRIPTS['multi-node-prefill/worker-p1.sh']!;
    assert.ok(head.includes('ray start --head --num-gpus=16 '));
    assert.ok(head.includes('--distributed-executor-backend ray'));
    assert.ok(head.includes('--tensor-parallel-size 32 '));
    assert.ok(head.includes('\nstart_server 0 9000 0\n'));
    assert.ok(
      head.includes(`setsid bash -c 'await_ray_group "$@"' await_ray_group vllm "\${vllm_args[@]}" `),
    );
    assert.ok(head.includes("local members=('p1=10.0.0.2')"), 'the members, named');
    assert.ok(head.includes('local want=2 deadline=$((SECONDS + 300))'));
    assert.doesNotMatch(worker, /await_ray_group/);
    assert.ok(worker.includes('ray stop --force'));
    assert.ok(worker.includes('until ray start --address="$ray_head" --num-gpus=16 '));
    assert.ok(worker.includes('ray_head=10.0.0.1:6379'));
    assert.ok(worker.includes('join_deadline=$((SECONDS + 300))'));
    assert.doesNotMatch(worker, /start_server|vllm_args/);
    for (const s of [head, worker]) {
      assert.equal(exported(s, 'NODE_IP_LIST'), '10.0.0.1,10.0.0.2');
      assert.equal(exported(s, 'NNODES'), '2');
      assert.equal(exported(s, 'MASTER_NODE_IP'), '10.0.0.1');
      assert.equal(exported(s, 'RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES'), '1');
    }
    assert.equal(exported(worker, 'NODE_RANK'), '1');
  });

  it('a given socket interface replaces the run-time detection', () => {
    const s = renderLaunchScript({ ...PREFILL_P0, socketIfname: 'enp189s0f0' });
    assert.ok(s.includes('\nsocket_ifname=enp189s0f0\n'));
    assert.doesNotMatch(s, /ip -o -4 addr/);
    assert.match(p0, /ip -o -4 addr show/);
    assert.match(p0, /ip -4 route list 0\/0/);
  });

  it('inventory env overrides a default in place, so each name is exported once', () => {
    const s = renderLaunchScript({ ...DECODE_D0, extraEnv: { HCCL_EXEC_TIMEOUT: '120', MY_FLAG: 'x y' } });
    assert.equal(s.match(/HCCL_EXEC_TIMEOUT=/g)?.length, 1);
    assert.equal(exported(s, 'HCCL_EXEC_TIMEOUT'), '120');
    assert.equal(exported(s, 'MY_FLAG'), "'x y'");
  });

  it('refuses specs that cannot be right', () => {
    assert.throws(
      () => renderLaunchScript({ ...DECODE_D0, extraEnv: { 'A;reboot': '1' } }),
      /not a valid shell variable name/,
    );
    assert.throws(
      () => renderLaunchScript({ ...PREFILL_WORKER_P1, apiServers: [{ port: 9000, dpRank: 0 }] }),
      /Ray worker/,
    );
    assert.throws(
      () =>
        renderLaunchScript({
          ...PREFILL_P0,
          apiServers: [
            { port: 9000, dpRank: 0 },
            { port: 9000, dpRank: 0 },
          ],
        }),
      /share a port/,
    );
    assert.throws(
      () => renderLaunchScript({ ...DECODE_D0, apiServers: [{ port: 9100, dpRank: 32 }] }),
      /DP rank 32/,
    );
  });
});

describe('launch scripts: quoting', () => {
  const EVIL = ["'; rm -rf / #", '$(reboot)', '`reboot`', 'a"b\\c', '%d%s\\n'];

  it('inventory values reach the script only inside single quotes', () => {
    for (const evil of EVIL) {
      const spec: EngineLaunchSpec = {
        ...PREFILL_P0,
        host: { ...PREFILL_P0.host, name: `p0${evil}` },
        modelPath: `/models/${evil}`,
        servedModelName: evil,
        extraArgs: ['--x', evil],
        extraEnv: { EVIL: evil },
        logDir: `/log/${evil}`,
        decodeServerIpList: [evil],
      };
      const script = renderLaunchScript(spec);
      assert.equal(bashSyntaxError(script), null);
      assert.ok(script.includes(`host_name=${shellQuote(`p0${evil}`)}\n`));
      assert.ok(script.includes(`export EVIL=${shellQuote(evil)}\n`));
      assert.ok(script.includes(` --served-model-name ${shellQuote(evil)} `));
      assert.ok(script.includes(` --x ${shellQuote(evil)}`));
      assert.ok(script.includes(`export LOCAL_DECODE_SERVER_IP_LIST=${shellQuote(evil)}\n`));
    }
  });
});
