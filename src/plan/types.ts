/**
 * The Plan: everything a deployment does, computed from the inventory by pure functions. It is
 * the workflow's input, so Temporal history records exactly what was deployed; it never holds a
 * secret, only references that a worker resolves.
 */

import type {
  ApiServer,
  ContainerCli,
  DeploySettings,
  Group,
  HostKeyPolicy,
  ListeningPort,
} from '../inventory/types';
import type { HostLogin } from '../shared/host';

// What the inventory defines (settings, groups, ports), as the Plan carries it.
export type { ApiServer, ContainerCli, DeploySettings, Group, HostKeyPolicy, HostLogin, ListeningPort };
export type Role = 'prefill' | 'decode' | 'proxy';

export interface ContainerMount {
  host: string;
  container: string;
  readOnly: boolean;
}

/** Everything `docker run` / `podman run` needs for one host's container. */
export interface ContainerSpec {
  cli: ContainerCli;
  name: string;
  image: string;
  /** Seed flags (`--shm-size=500g`, `--net=host`, …) as single argv words. */
  flags: string[];
  devices: string[];
  mounts: ContainerMount[];
  env: Record<string, string>;
  labels: Record<string, string>;
}

export interface PlanHost {
  name: string;
  group: Group;
  role: Role;
  address: string;
  /**
   * How the worker logs in: with name and address, the HostRef every activity input names
   * (src/shared/host.ts). A password stays in the inventory file; the Plan refers to it there.
   */
  ssh: HostLogin;
  container: ContainerSpec;
  /** NPU ids from ascend_rt_visible_devices; empty for the proxy. */
  devices: number[];
  /** `prefill-<kv_rank>`, `decode-0` or `proxy`. */
  instance: string;
  nodeRank: number;
  /** The DP master / RPC port (node_port); for the proxy its listen port. */
  nodePort: number;
  /** Base API port; null for the proxy. */
  apiPort: number | null;
  isMaster: boolean;
  /** Address of the instance's master host (host_ip). */
  masterAddress: string;
  /** Prefill master: one; prefill slave: none (Ray workers); decode: one per device. */
  apiServers: ApiServer[];
  /** Decode: DP rank of this host's first API server; 0 otherwise. */
  dpOffset: number;
  ports: ListeningPort[];
  logDir: string;
  /** Where fetch_log puts this host's logs on the executor. */
  executorLogDir: string;
}

export interface EngineSpec {
  maxModelLen: number;
  tensorParallelSize: number;
  dataParallelSize: number;
  kvRank: number;
  kvParallelSize: number;
  kvRole: 'kv_producer' | 'kv_consumer';
  kvConnector: string;
  servedModelName: string;
  gpuMemoryUtilization: number;
  modelExtraConfigPath: string;
  extraArgs: string[];
  env: Record<string, string>;
  additionalConfig: Record<string, unknown> | null;
  readyTimeoutMs: number;
}

export interface PrefillInstance {
  id: string;
  kvRank: number;
  /** Master first, then the others in inventory order. */
  hosts: string[];
  master: string;
  masterAddress: string;
  masterPort: number;
  apiPort: number;
  multiNode: boolean;
  /** The seed's per-P facts: every host of the instance, as ansible_host. */
  nodeIpList: string[];
  nnodes: number;
  /**
   * A multi-node instance: how long a member tries to join the Ray head, and the head's engine
   * waits for all members, before either gives up (ray_join_timeout).
   */
  rayJoinTimeoutSeconds: number;
  engine: EngineSpec;
}

export interface DecodeInstance {
  id: string;
  /** Master first, then the others in inventory order (DECODE_SERVER_IP_LIST order). */
  hosts: string[];
  master: string;
  masterAddress: string;
  masterPort: number;
  /** Every API server of the instance, DP rank order. */
  apiServers: (ApiServer & { host: string; address: string })[];
  engine: EngineSpec;
}

export interface ProxySpec {
  host: string;
  address: string;
  listenPort: number;
  image: string;
  /** One per prefill instance: its master's API server. */
  prefillUpstreams: string[];
  /** Every decode API server. */
  decodeUpstreams: string[];
  prefillLbSdk: string;
  decodeLbSdk: string;
  httpProxy: string;
}

export interface RanktableHostFiles {
  /** Inventory host name. */
  name: string;
  address: string;
  devices: number[];
  /** Folder on the host the generator writes to (prefill_config / decode_config). */
  configDir: string;
  /** `local_ranktable_<ip>_<devices concatenated>.json` */
  deviceFile: string;
  /** Prefill only: `local_ranktable_<ip>_host.json`. */
  apiServerFile: string | null;
}

export interface RanktableInstanceFiles {
  /** Master first. */
  hosts: RanktableHostFiles[];
  /** Multi-host instances: the merge-local result under the global folder. */
  mergedFile: string | null;
  /** What the engine gets as RANK_TABLE_FILE_PATH: the merged file, or the single host's own. */
  rankTableFile: string;
}

/**
 * The seed's ranktable folders and file names (§4.2); the ranktable phase fills them. Its
 * prefill/decode lists are also a ranktable `RanktableLayout` (src/plan/ranktable) as they stand.
 */
export interface RanktablePlan {
  saveDir: string;
  /** The host whose container runs the global merge: the seed's groups['P'][0], the first P host. */
  coordinator: string;
  globalDir: string;
  globalFile: string;
  executor: {
    collectPrefillDir: string;
    collectPrefillApiDir: string;
    collectDecodeDir: string;
    globalDir: string;
  };
  prefill: (RanktableInstanceFiles & { kvRank: number })[];
  decode: RanktableInstanceFiles[];
}

/** The seed's "Register all values" facts (§2.1), as the strings its scripts receive. */
export interface SeedFacts {
  PREFILL_API_SERVER_LIST: string;
  DECODE_API_SERVER_LIST: string;
  PREFILL_POD_NUM: number;
  /** Decode instances (always 1); the seed put the D host count here, see DECODE_HOST_NUM. */
  DECODE_POD_NUM: number;
  DECODE_HOST_NUM: number;
  DECODE_SERVER_IP_LIST: string;
  DECODE_SERVER_ALL: string;
  PREFILL_MERGE_RANKTABLE_LIST: string;
  DECODE_RANKTABLE_LIST: string;
  DECODE_SERVER_OFFSET: Record<string, number>;
  /** Per P host. */
  NODE_IP_LIST: Record<string, string>;
  NNODES: Record<string, number>;
}

export interface Plan {
  planVersion: 1;
  cluster: string;
  /** Absolute path of the inventory the Plan was built from (password references name it too). */
  inventoryFile: string;
  settings: DeploySettings;
  /** Inventory order: P, then D, then C hosts. */
  hosts: PlanHost[];
  prefill: PrefillInstance[];
  decode: DecodeInstance[];
  proxy: ProxySpec;
  ranktable: RanktablePlan;
  facts: SeedFacts;
  scriptsDir: string;
  codeInstallCommand: string;
}
