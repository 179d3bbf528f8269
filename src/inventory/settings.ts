import type { z } from 'zod';
import type { DeploySettings } from './types';
import {
  argList,
  CONTAINER_PREFIX_MAX,
  containerName,
  deviceSpecList,
  duration,
  envMap,
  executorPath,
  fraction,
  int,
  jsonObject,
  managedFolder,
  modelPath,
  mountList,
  NAME_MAX,
  nameLengthMessage,
  nonEmpty,
  oneOf,
  optionalExecutorPath,
  stringList,
  text,
} from './schemas';

export const LB_SDKS = [
  'pd_score_balance',
  'weighted_least_active',
  'greedy_timeout',
  'prefill_score_balance',
  'least_total_load',
  'auto_balance_controller',
  'length_balance',
  'least_conn',
  'round_robin',
] as const;

/** The seed leaves this in DOCKER_IMAGE_ID for the operator to replace. */
export const IMAGE_PLACEHOLDER = 'REPOSITORY:TAG';

// The seed's default omniinfer install in the container (§3.2 step 3), as one bash command run
// with CODE_PATH and LOG_PATH in the container's environment.
const SEED_CODE_INSTALL = [
  'cd "$CODE_PATH/omniinfer/infer_engines"',
  'git config --global --add safe.directory "$CODE_PATH/omniinfer/infer_engines/vllm"',
  '(cd vllm && git checkout -f)',
  'bash bash_install_code.sh',
  'pip uninstall -y vllm',
  'pip uninstall -y omniinfer',
  '(cd vllm && SETUPTOOLS_SCM_PRETEND_VERSION=0.9.0 VLLM_TARGET_DEVICE=empty pip install -e .)',
  '(cd .. && pip install -e .)',
  'pip install numpy==1.26 > "$LOG_PATH/pip.log" 2>&1',
].join(' && ');

// The seed's docker run (§3.1): flags as single argv words so a list entry is one flag.
const SEED_CONTAINER_FLAGS = [
  '--shm-size=500g',
  '--net=host',
  '--privileged=true',
  '--user=root',
  '--workdir=/data',
  '--entrypoint=bash',
];

const SEED_CONTAINER_DEVICES = ['/dev/davinci_manager', '/dev/hisi_hdc', '/dev/devmm_svm'];

// The fixed part of the seed's bind mounts; LOG_PATH, MODEL_PATH, SCRIPTS_PATH, CODE_PATH and
// ranktable_save_path are always added after these, from the settings.
const SEED_CONTAINER_MOUNTS = [
  '/data:/data',
  '/tmp:/tmp',
  '/usr/local/Ascend/driver:/usr/local/Ascend/driver',
  '/usr/local/dcmi:/usr/local/dcmi',
  '/usr/local/bin/npu-smi:/usr/local/bin/npu-smi',
  '/etc/ascend_install.info:/etc/ascend_install.info',
  '/usr/local/sbin:/usr/local/sbin',
  '/etc/hccn.conf:/etc/hccn.conf',
  '/usr/bin/hccn_tool:/usr/bin/hccn_tool',
  '/usr/share/zoneinfo/Asia/Shanghai:/etc/localtime',
];

// vllm_run_for_p.sh / vllm_run_for_d.sh (§6.1, §6.2). HCCL_EXEC_TIMEOUT stays 1800: the seed's
// pd_run.sh silently resets it to 120 (§9.3), which its own run scripts did not intend.
const SEED_PREFILL_ENV = {
  HCCL_CONNECT_TIMEOUT: '1800',
  HCCL_EXEC_TIMEOUT: '1800',
  HCCL_OP_EXPANSION_MODE: 'AIV',
  PYTORCH_NPU_ALLOC_CONF: 'expandable_segments:True',
  VLLM_ENABLE_MC2: '1',
};
const SEED_DECODE_ENV = { ...SEED_PREFILL_ENV, HCCL_BUFFSIZE: '1000' };

const containerPrefix = () =>
  containerName(
    CONTAINER_PREFIX_MAX,
    `container names are <DOCKER_NAME_x>_<host>, at most 128 characters, so a prefix may have ${CONTAINER_PREFIX_MAX}`,
  );

/** Folders omni-deploy creates and writes its own files into on every host: the managed-folder rules. */
export const MANAGED_FOLDERS = ['SCRIPTS_PATH', 'ranktable_save_path', 'LOG_PATH', 'CODE_PATH'] as const;

interface SettingDef {
  schema: z.ZodType<unknown>;
  default?: unknown;
  /** The seed gives no usable default: its README tells the operator to set these. */
  required?: true;
}

/**
 * Every setting an inventory may carry in `all.vars` (or `-e`). Defaults that depend on another
 * setting or on the file name (cluster_name, LOCAL_CODE_PATH, proxy_image) are filled in by the
 * loader after these.
 */
export const SETTINGS: { readonly [K in keyof DeploySettings]: SettingDef } = {
  cluster_name: { schema: containerName(NAME_MAX, nameLengthMessage) },
  LOG_PATH: { schema: managedFolder(), default: '/data/log_path' },
  MODEL_PATH: { schema: modelPath(), required: true },
  MODEL_LEN_MAX_PREFILL: { schema: int(1), default: 32000 },
  MODEL_LEN_MAX_DECODE: { schema: int(1), default: 16384 },
  LOG_PATH_IN_EXECUTOR: { schema: executorPath(), default: '/data/log_path_in_executor' },
  CODE_PATH: { schema: managedFolder(), default: '/data/local_code_path' },
  LOCAL_CODE_PATH: { schema: executorPath() },
  SCRIPTS_PATH: { schema: managedFolder(), default: '/tmp/scripts_path' },
  HTTP_PROXY: { schema: text(), default: '' },
  DOCKER_IMAGE_ID: { schema: nonEmpty(), required: true },
  DOCKER_NAME_P: { schema: containerPrefix(), default: 'you_name_omni_infer_prefill' },
  DOCKER_NAME_D: { schema: containerPrefix(), default: 'you_name_omni_infer_decode' },
  DOCKER_NAME_C: { schema: containerPrefix(), default: 'you_name_omni_infer_proxy' },
  PREFILL_LB_SDK: { schema: oneOf(LB_SDKS), default: 'pd_score_balance' },
  DECODE_LB_SDK: { schema: oneOf(LB_SDKS), default: 'pd_score_balance' },
  DECODE_TENSOR_PARALLEL_SIZE: { schema: int(1), default: 1 },
  ranktable_save_path: { schema: managedFolder(), default: '/tmp/ranktable_save_path' },
  container_cli: { schema: oneOf(['docker', 'podman'] as const), default: 'docker' },
  served_model_name: { schema: nonEmpty(), default: 'deepseek' },
  kv_connector: { schema: nonEmpty(), default: 'AscendHcclConnectorV1' },
  gpu_memory_utilization: { schema: fraction(), default: 0.92 },
  prefill_extra_args: {
    schema: argList(),
    default:
      '--max-num-batched-tokens 30000 --enforce-eager --enable-expert-parallel --disable-log-requests --max-num-seqs 16',
  },
  decode_extra_args: {
    schema: argList(),
    default: '--enable-expert-parallel --disable-log-requests --max-num-seqs 32',
  },
  prefill_env: { schema: envMap(), default: SEED_PREFILL_ENV },
  decode_env: { schema: envMap(), default: SEED_DECODE_ENV },
  decode_additional_config: { schema: jsonObject(), default: { graph_model_compile_config: { level: 1 } } },
  container_flags: { schema: stringList(), default: SEED_CONTAINER_FLAGS },
  container_devices: { schema: deviceSpecList(), default: SEED_CONTAINER_DEVICES },
  container_mounts: { schema: mountList(), default: SEED_CONTAINER_MOUNTS },
  container_env: { schema: envMap(), default: {} },
  proxy_image: { schema: nonEmpty() },
  proxy_mode: { schema: oneOf(['njs', 'seed'] as const), default: 'njs' },
  code_install_command: { schema: text(), default: SEED_CODE_INSTALL },
  code_sync_fan_out: { schema: int(0), default: 2 },
  image_archive: { schema: optionalExecutorPath(), default: '' },
  image_archive_on_down: { schema: oneOf(['keep', 'remove'] as const), default: 'keep' },
  known_hosts_file: { schema: executorPath(), default: '~/.ssh/known_hosts' },
  host_key_policy: { schema: oneOf(['strict', 'accept-new'] as const), default: 'strict' },
  engine_ready_timeout: { schema: duration(), default: '30m' },
  ray_join_timeout: { schema: duration(), default: '300s' },
};

export const SETTING_KEYS = Object.keys(SETTINGS) as (keyof DeploySettings)[];

export const isSetting = (key: string): key is keyof DeploySettings => Object.hasOwn(SETTINGS, key);

/** Defaults that follow another setting or the file name, filled in by the loader. */
export const DERIVED_DEFAULTS = ['cluster_name', 'LOCAL_CODE_PATH', 'proxy_image'] as const;
