import type { EngineLaunchSpec } from './types';

/** The seed's KV transfer JSON (pd_run.sh): rank, engine id and size as numbers. */
export function kvTransferConfig(spec: EngineLaunchSpec): string {
  return JSON.stringify({
    kv_connector: spec.kv.connector,
    kv_buffer_device: spec.kv.bufferDevice,
    kv_role: spec.kv.role,
    kv_rank: spec.kv.rank,
    engine_id: spec.kv.engineId,
    kv_parallel_size: spec.kv.parallelSize,
  });
}

/**
 * `vllm serve` arguments shared by every API server of the host, in start_api_servers.py's
 * order; the per-server `--port` is added by the launcher. Each engine process is its own DP
 * group of one for vLLM's CLI: the instance-wide data parallelism reaches it through VLLM_DP_*.
 */
export function vllmServeArgs(spec: EngineLaunchSpec): string[] {
  const args = [
    'serve',
    spec.modelPath,
    '--trust-remote-code',
    '--gpu-memory-utilization',
    String(spec.gpuMemoryUtilization),
    '--block_size',
    '128',
    '--tensor-parallel-size',
    String(spec.tensorParallelSize),
    '--data-parallel-size',
    '1',
    '--data-parallel-size-local',
    '1',
    '--data-parallel-address',
    spec.dp.masterIp,
    '--data-parallel-rpc-port',
    String(spec.dp.masterPort),
    '--served-model-name',
    spec.servedModelName,
    '--max-model-len',
    String(spec.maxModelLen),
    '--kv-transfer-config',
    kvTransferConfig(spec),
  ];
  // The seed's vllm_run_for_p.sh appends this for a prefill instance that spans hosts.
  if (spec.multiNode) args.push('--distributed-executor-backend', 'ray');
  args.push(...spec.extraArgs);
  if (spec.additionalConfig !== undefined)
    args.push('--additional-config', JSON.stringify(spec.additionalConfig));
  return args;
}
