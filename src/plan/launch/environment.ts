import { shellQuote } from '../../shared/shellQuote';
import type { EngineLaunchSpec } from './types';

/** A value known when the script is generated, or a shell expression evaluated on the host. */
export type EnvValue = { literal: string } | { shell: string };

/** The shell variable the launch script fills with the detected socket interface. */
export const SOCKET_IFNAME_VAR = 'socket_ifname';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The environment every engine process of the host inherits: what the seed's
 * `vllm_run_for_p/d.sh` and `pd_run.sh` export, in that order, then the inventory's own
 * variables. An inventory variable with a default's name replaces it in place, so each name is
 * exported exactly once and the script reads as the final environment.
 */
export function engineEnvironment(spec: EngineLaunchSpec): Map<string, EnvValue> {
  const env = new Map<string, EnvValue>();
  const set = (name: string, value: string | number) => env.set(name, { literal: String(value) });
  const decodeIps = spec.decodeServerIpList.join(',');

  set('GLOBAL_RANK_TABLE_FILE_PATH', spec.ranktable.globalPath);
  set('RANK_TABLE_FILE_PATH', spec.ranktable.localPath);
  set('LOCAL_DECODE_SERVER_IP_LIST', decodeIps);
  set('GLOBAL_DECODE_SERVER_IP_LIST', decodeIps);
  set('ROLE', spec.role);
  set('PREFILL_POD_NUM', spec.prefillPodNum);
  set('DECODE_POD_NUM', spec.decodePodNum);
  set('VLLM_LLMDATADIST_ZMQ_PORT', 5568);
  set('HCCL_INTRA_ROCE_ENABLE', 1);
  set('HCCL_INTRA_PCIE_ENABLE', 0);
  // As in the seed, only prefill pins its devices; a decode engine finds its device from its
  // DP rank and SERVER_OFFSET.
  if (spec.role === 'prefill') set('ASCEND_RT_VISIBLE_DEVICES', spec.host.devices.join(','));
  env.set('GLOO_SOCKET_IFNAME', { shell: `"$${SOCKET_IFNAME_VAR}"` });
  env.set('TP_SOCKET_IFNAME', { shell: `"$${SOCKET_IFNAME_VAR}"` });
  set('VLLM_LOGGING_LEVEL', 'INFO');
  set('VLLM_USE_V1', 1);
  set('VLLM_WORKER_MULTIPROC_METHOD', 'fork');
  set('SERVER_OFFSET', spec.dp.offset);
  if (spec.modelExtraConfigPath !== undefined) set('MODEL_EXTRA_CFG_PATH', spec.modelExtraConfigPath);
  set('USING_LCCL_COM', 0);
  set('OMNI_USE_DSV3', 1);
  set('VLLM_ENABLE_MC2', 1);
  set('HCCL_OP_EXPANSION_MODE', 'AIV');
  if (spec.role === 'decode') set('HCCL_BUFFSIZE', 1000);
  set('HCCL_CONNECT_TIMEOUT', 1800);
  // The seed's run scripts ask for 1800 s and pd_run.sh silently resets it to 120 s, so the
  // value an operator reads in the run script is not the one in force. One value, the one the
  // run scripts ask for (equal to the connect timeout: the first collective can wait for the
  // slowest rank's graph compilation); the inventory can still lower it through extraEnv.
  set('HCCL_EXEC_TIMEOUT', 1800);
  set('TNG_HOST_COPY', 1);
  set('AUTO_USE_UC_MEMORY', 1);
  set('TASK_QUEUE_ENABLE', 2);
  set('PYTORCH_NPU_ALLOC_CONF', 'expandable_segments:True');

  const multi = spec.multiNode;
  if (multi) {
    set('MASTER_NODE_IP', multi.headAddress);
    set('NNODES', multi.nnodes);
    set('NODE_RANK', multi.nodeRank);
    set('NODE_IP_LIST', multi.nodeIpList.join(','));
    // Ray would otherwise rewrite the device list we set for this host.
    set('RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES', 1);
    set('RAY_CGRAPH_get_timeout', 7200);
  }

  for (const [name, value] of Object.entries(spec.extraEnv)) {
    if (!ENV_NAME.test(name)) {
      throw new Error(
        `engine environment variable name ${JSON.stringify(name)} on host ${spec.host.name} is not a valid shell variable name`,
      );
    }
    set(name, value);
  }
  return env;
}

export function exportLines(env: Map<string, EnvValue>): string[] {
  return [...env].map(([name, v]) => `export ${name}=${'literal' in v ? shellQuote(v.literal) : v.shell}`);
}
