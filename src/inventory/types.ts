import type { ContainerCli, HostKeyPolicy } from '../shared/host';

export type { ContainerCli, HostKeyPolicy };

/**
 * How the inventory says a host logs in (`ansible_ssh_private_key_file` or `ansible_password`).
 * The password itself is never read here: the Plan turns this into a reference to it.
 */
export type InventoryLogin = { method: 'key'; keyFile: string } | { method: 'password' };

/** Which inventory group a host is in: P (prefill), D (decode), C (the proxy). */
export type Group = 'P' | 'D' | 'C';

/**
 * Playbook-level settings, by the seed's names so an operator recognises them (the seed's
 * `environment:` block in UPPER_CASE, its play vars in lower_case), with the seed's defaults.
 */
export interface DeploySettings {
  cluster_name: string;
  LOG_PATH: string;
  MODEL_PATH: string;
  MODEL_LEN_MAX_PREFILL: number;
  MODEL_LEN_MAX_DECODE: number;
  LOG_PATH_IN_EXECUTOR: string;
  CODE_PATH: string;
  LOCAL_CODE_PATH: string;
  SCRIPTS_PATH: string;
  HTTP_PROXY: string;
  DOCKER_IMAGE_ID: string;
  DOCKER_NAME_P: string;
  DOCKER_NAME_D: string;
  DOCKER_NAME_C: string;
  PREFILL_LB_SDK: string;
  DECODE_LB_SDK: string;
  DECODE_TENSOR_PARALLEL_SIZE: number;
  ranktable_save_path: string;
  container_cli: ContainerCli;
  served_model_name: string;
  kv_connector: string;
  gpu_memory_utilization: number;
  prefill_extra_args: string[];
  decode_extra_args: string[];
  prefill_env: Record<string, string>;
  decode_env: Record<string, string>;
  decode_additional_config: Record<string, unknown>;
  container_flags: string[];
  container_devices: string[];
  container_mounts: string[];
  container_env: Record<string, string>;
  proxy_image: string;
  /** `njs`: stock nginx + njs generated from the Plan; `seed`: omniinfer's own global_proxy.sh
   * (nginx with its C modules) run in the proxy container, as the seed does. */
  proxy_mode: 'njs' | 'seed';
  code_install_command: string;
  /**
   * sync_code's fan-out: the executor sends the code to this many hosts at once, and every host
   * that has it sends it on to this many more (src/plan/syncWaves.ts); 0: every host gets it from
   * the executor, all at once, as the seed's synchronize does.
   */
  code_sync_fan_out: number;
  /**
   * A `docker save` archive on the executor, for hosts that cannot reach a registry: copied to
   * every machine as the code is (fanned out) and `docker load`ed where an image is missing,
   * before run_docker starts containers. '' (the default): images come from the registry.
   */
  image_archive: string;
  /**
   * What `deploy down` (clean_up) does with the archive copied to each host: `keep` it (the
   * default: the code folder stays, as the seed keeps it, and a redeploy after an image was
   * removed loads it without copying) or `remove` it (it is the tool's file, and its images are
   * in the container engine once loaded).
   */
  image_archive_on_down: 'keep' | 'remove';
  known_hosts_file: string;
  host_key_policy: HostKeyPolicy;
  engine_ready_timeout: string;
  ray_join_timeout: string;
}

/** One OpenAI API server process (one engine / DP rank). */
export interface ApiServer {
  port: number;
  dpRank: number;
}

/** A port a host listens on, with the inventory field that put it there. */
export interface ListeningPort {
  first: number;
  last: number;
  what: string;
}

/** One inventory host with its fields rendered and validated (seed names in comments). */
export interface InventoryHost {
  name: string;
  group: Group;
  /** ansible_host */
  address: string;
  /** ansible_port */
  sshPort: number;
  /** ansible_user */
  user: string;
  login: InventoryLogin;
  nodeRank: number;
  nodePort: number;
  /** P only. */
  kvRank: number | null;
  /** P and D. */
  apiPort: number | null;
  /** host_ip: the address of the instance's master (P and D; may be absent on D with `role`). */
  hostIp: string | null;
  /** ascend_rt_visible_devices */
  devices: number[];
  /** The older decode convention: M = master, S = slave. */
  legacyRole: 'M' | 'S' | null;
}

export interface PrefillMembership {
  kvRank: number;
  /** Host names, master first. */
  hosts: string[];
}

export interface DecodeMembership {
  hosts: string[];
}

/** A validated inventory: hosts, who belongs to which instance, and the settings. */
export interface Inventory {
  /** Absolute path of the file read. */
  file: string;
  settings: DeploySettings;
  /** In inventory order: P, then D, then C. */
  hosts: InventoryHost[];
  /** Ordered by kv_rank. */
  prefill: PrefillMembership[];
  decode: DecodeMembership[];
  proxy: string;
}
