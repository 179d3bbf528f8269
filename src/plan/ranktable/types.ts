/**
 * JSON shapes of omniinfer's ranktable files (`pd_ranktable_tools.py`). Key order and value types
 * are part of the format: the engine and operators diff these files against the seed's output, so
 * ids are strings everywhere and `server_count` is a string in generated files but an integer in
 * merged ones, exactly as omniinfer writes them.
 */
export interface RanktableDevice {
  device_id: string;
  device_ip: string;
  rank_id: string;
}

export interface RanktableServer {
  server_id: string;
  server_ip: string;
  /** Absent only in the API-server (`_host`) file. */
  device?: RanktableDevice[];
}

/** `--mode gen` output: one server, `server_count` the string "1". */
export interface LocalRanktable {
  version: '1.0';
  status: 'completed';
  group_id: '0';
  server_count: string;
  server_list: RanktableServer[];
}

/** `--mode merge-local` output: one server per host of the instance, integer `server_count`. */
export interface MergedLocalRanktable {
  version: '1.0';
  status: 'completed';
  group_id: '0';
  server_count: number;
  server_list: RanktableServer[];
}

/** What an instance contributes to the global merge: its host's file, or its merge-local file. */
export type InstanceRanktable = LocalRanktable | MergedLocalRanktable;

export interface RanktableGroup {
  group_id: string;
  server_count: number;
  server_list: RanktableServer[];
}

/** `--mode merge-all` output (`global_ranktable_merge.json`). */
export interface GlobalRanktable {
  version: '1.0';
  status: 'completed';
  server_group_list: RanktableGroup[];
}

export interface NamedRanktable<T> {
  fileName: string;
  ranktable: T;
}
