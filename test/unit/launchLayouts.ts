import type { EngineLaunchSpec } from '../../src/plan/launch';

/** Launch specs of a 2P1D-like layout (seed §1.3, §6.4) and of a prefill instance over two hosts. */

const SIXTEEN = Array.from({ length: 16 }, (_, i) => i);
const RSP = '/tmp/ranktable_save_path';
const GLOBAL_RANKTABLE = `${RSP}/global/global_ranktable_merge.json`;
const CFG = '/data/local_code_path/omniinfer/tests/test_config';
const DECODE_IPS = ['10.0.0.3', '10.0.0.4'];

const common = {
  modelPath: '/data/models/DeepSeek-R1-w8a8-fusion',
  servedModelName: 'deepseek',
  gpuMemoryUtilization: 0.92,
  decodeServerIpList: DECODE_IPS,
  prefillPodNum: 2,
  decodePodNum: 2,
  extraEnv: {},
  logDir: '/data/log_path',
  runDir: '/tmp/omni-deploy/run',
};

const PREFILL_EXTRA_ARGS = [
  '--max-num-batched-tokens',
  '30000',
  '--enforce-eager',
  '--enable-expert-parallel',
  '--disable-log-requests',
  '--max-num-seqs',
  '16',
];

export const PREFILL_P0: EngineLaunchSpec = {
  ...common,
  role: 'prefill',
  host: { name: 'p0', address: '10.0.0.1', masterAddress: '10.0.0.1', devices: SIXTEEN },
  maxModelLen: 32000,
  tensorParallelSize: 16,
  kv: {
    connector: 'AscendHcclConnectorV1',
    role: 'kv_producer',
    rank: 0,
    engineId: 0,
    parallelSize: 3,
    bufferDevice: 'npu',
  },
  dp: { size: 1, offset: 0, masterIp: '10.0.0.1', masterPort: 8000 },
  apiServers: [{ port: 9000, dpRank: 0 }],
  ranktable: {
    localPath: `${RSP}/prefill_config/local_ranktable_10.0.0.1_0123456789101112131415.json`,
    globalPath: GLOBAL_RANKTABLE,
  },
  extraArgs: PREFILL_EXTRA_ARGS,
  modelExtraConfigPath: `${CFG}/test_config_prefill.json`,
};

function decode(name: string, address: string, apiPort: number, offset: number): EngineLaunchSpec {
  return {
    ...common,
    role: 'decode',
    host: { name, address, masterAddress: '10.0.0.3', devices: SIXTEEN },
    maxModelLen: 16384,
    tensorParallelSize: 1,
    kv: {
      connector: 'AscendHcclConnectorV1',
      role: 'kv_consumer',
      rank: 2,
      engineId: 2,
      parallelSize: 3,
      bufferDevice: 'npu',
    },
    dp: { size: 32, offset, masterIp: '10.0.0.3', masterPort: 8100 },
    apiServers: SIXTEEN.map((i) => ({ port: apiPort + i, dpRank: offset + i })),
    ranktable: {
      localPath: `${RSP}/global/collect_files_d/local_ranktable_merge.json`,
      globalPath: GLOBAL_RANKTABLE,
    },
    extraArgs: ['--enable-expert-parallel', '--disable-log-requests', '--max-num-seqs', '32'],
    additionalConfig: { graph_model_compile_config: { level: 1 } },
    modelExtraConfigPath: `${CFG}/test_config_decode.json`,
  };
}

export const DECODE_D0 = decode('d0', '10.0.0.3', 9100, 0);
export const DECODE_D1 = decode('d1', '10.0.0.4', 9101, 16);

function multiNodePrefill(
  name: string,
  address: string,
  isHead: boolean,
  nodeRank: number,
): EngineLaunchSpec {
  return {
    ...PREFILL_P0,
    prefillPodNum: 1,
    kv: { ...PREFILL_P0.kv, parallelSize: 2 },
    host: { name, address, masterAddress: '10.0.0.1', devices: SIXTEEN },
    tensorParallelSize: 32,
    apiServers: isHead ? [{ port: 9000, dpRank: 0 }] : [],
    ranktable: {
      localPath: `${RSP}/global/collect_files_p/10.0.0.1/local_ranktable_merge.json`,
      globalPath: GLOBAL_RANKTABLE,
    },
    multiNode: {
      isHead,
      headAddress: '10.0.0.1',
      nodeIpList: ['10.0.0.1', '10.0.0.2'],
      nodeNames: ['p0', 'p1'],
      nnodes: 2,
      nodeRank,
    },
  };
}

export const PREFILL_HEAD_P0 = multiNodePrefill('p0', '10.0.0.1', true, 0);
export const PREFILL_WORKER_P1 = multiNodePrefill('p1', '10.0.0.2', false, 1);
