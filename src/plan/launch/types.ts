/**
 * What the launch generators need to know about one engine host, and nothing more: a narrow,
 * JSON-serialisable view that the Plan is mapped to, so the generated scripts can be read and
 * golden-tested without building a whole Plan.
 */

export type EngineRole = 'prefill' | 'decode';

export interface EngineHost {
  /** Inventory host name; appears in messages and the manifest only. */
  name: string;
  /** The host's own address (ansible_host): used to find the socket interface at run time. */
  address: string;
  /** Address of the instance's master host (host_ip). */
  masterAddress: string;
  /** NPU ids of this host (ascend_rt_visible_devices). */
  devices: number[];
}

export interface KvTransfer {
  /** e.g. AscendHcclConnectorV1 */
  connector: string;
  role: 'kv_producer' | 'kv_consumer';
  rank: number;
  engineId: number;
  parallelSize: number;
  /** e.g. npu */
  bufferDevice: string;
}

export interface DataParallel {
  /** DP size of the whole instance (VLLM_DP_SIZE). */
  size: number;
  /** DP rank of this host's first API server (the seed's SERVER_OFFSET). */
  offset: number;
  masterIp: string;
  masterPort: number;
}

/** One `vllm serve` process: one API server, one DP rank. */
export interface ApiServerLaunch {
  port: number;
  dpRank: number;
}

/** A prefill instance spread over several hosts, joined through Ray. */
export interface MultiNodeLaunch {
  isHead: boolean;
  headAddress: string;
  nodeIpList: string[];
  /** Inventory names of the hosts of nodeIpList, same order: messages name the host. */
  nodeNames: string[];
  nnodes: number;
  nodeRank: number;
  /**
   * How long a member keeps trying to join the head, and the head's engine waits for every member
   * to be in the Ray group, before either gives up (default 300).
   */
  joinTimeoutSeconds?: number;
}

export interface EngineLaunchSpec {
  role: EngineRole;
  host: EngineHost;
  modelPath: string;
  servedModelName: string;
  maxModelLen: number;
  tensorParallelSize: number;
  gpuMemoryUtilization: number;
  kv: KvTransfer;
  dp: DataParallel;
  /** Empty on a multi-node prefill worker. */
  apiServers: ApiServerLaunch[];
  ranktable: { localPath: string; globalPath: string };
  /** Decode hosts' addresses, master first (DECODE_SERVER_IP_LIST). */
  decodeServerIpList: string[];
  prefillPodNum: number;
  decodePodNum: number;
  multiNode?: MultiNodeLaunch;
  /** Appended to every `vllm serve` command line, one argv word each. */
  extraArgs: string[];
  /** Exported after the defaults, so the inventory can override any of them. */
  extraEnv: Record<string, string>;
  additionalConfig?: object;
  modelExtraConfigPath?: string;
  /** Engine logs: `server_<rank>.log`. */
  logDir: string;
  /** Pid files and the manifest. */
  runDir: string;
  /** Interface for GLOO/TP sockets; detected on the host at run time when absent. */
  socketIfname?: string;
}

/** What the stop script needs: where the pid files are, and whether this host runs Ray. */
export interface EngineStopSpec {
  runDir: string;
  /** Seconds between TERM and KILL (default 30). */
  graceSeconds?: number;
  ray: boolean;
}

/** One line of `<runDir>/servers.json`, written by the launch script once every server is started. */
export interface LaunchedServer {
  rank: number;
  dpRank: number;
  port: number;
  /** Process id and process group id (each server leads its own group). */
  pid: number;
  log: string;
  pidFile: string;
}

export interface ServersManifest {
  host: string;
  role: EngineRole;
  /** `head` / `worker` for a multi-node prefill, else `none`. */
  ray: 'head' | 'worker' | 'none';
  servers: LaunchedServer[];
}
