import { RanktableError } from './errors';
import type {
  GlobalRanktable,
  InstanceRanktable,
  LocalRanktable,
  MergedLocalRanktable,
  NamedRanktable,
  RanktableServer,
} from './types';

export const MERGED_LOCAL_FILE = 'local_ranktable_merge.json';
export const GLOBAL_FILE = 'global_ranktable_merge.json';

/**
 * `--mode merge-local`: the hosts of one multi-host instance become one table whose rank ids run
 * on across hosts in the given order (master first), because the engine numbers an instance's
 * devices 0…N−1 over all its hosts.
 */
export function mergeLocal(files: readonly LocalRanktable[]): NamedRanktable<MergedLocalRanktable> {
  if (files.length < 2)
    throw new RanktableError([`merge-local needs the files of at least two hosts, got ${files.length}`]);
  let rank = 0;
  const servers = files.map((file): RanktableServer => {
    const server = file.server_list[0];
    if (!server?.device) throw new RanktableError(['merge-local input has no server with devices']);
    return {
      server_id: server.server_id,
      server_ip: server.server_ip,
      device: server.device.map((d) => ({
        device_id: d.device_id,
        device_ip: d.device_ip,
        rank_id: String(rank++),
      })),
    };
  });
  return {
    fileName: MERGED_LOCAL_FILE,
    ranktable: {
      version: '1.0',
      status: 'completed',
      group_id: '0',
      server_count: servers.length,
      server_list: servers,
    },
  };
}

export interface MergeAllInput {
  /** One table per prefill instance, in kv_rank order. */
  prefill: readonly InstanceRanktable[];
  /** One table per decode instance. */
  decode: readonly InstanceRanktable[];
}

/**
 * `--mode merge-all`: one group per instance, prefill first then decode, group ids "0", "1", … and
 * server lists copied verbatim.
 *
 * omniinfer also loads the API-server (`_host`) file here and, through a reused variable, drops
 * it (behaviour spec §4.4). That accident is kept on purpose, so the API server is not even an
 * input: the engine's rank_table.py reads group ids 0…P−1 as the prefill instances and P… as
 * decode, and iterates every server's `device` list; a scheduler group without devices in front
 * would shift every instance and crash that loop. The `_host` files are still produced and
 * distributed for layout parity.
 */
export function mergeAll(input: MergeAllInput): NamedRanktable<GlobalRanktable> {
  const instances = [
    ...input.prefill.map((table, i) => ({ table, label: `prefill instance ${i}` })),
    ...input.decode.map((table, i) => ({ table, label: `decode instance ${i}` })),
  ];
  const problems = [
    ...(input.prefill.length === 0 ? ['merge-all needs at least one prefill instance'] : []),
    ...(input.decode.length === 0 ? ['merge-all needs at least one decode instance'] : []),
    ...instances.flatMap(({ table, label }) => rankProblems(table, label)),
  ];
  if (problems.length > 0) throw new RanktableError(problems);
  return {
    fileName: GLOBAL_FILE,
    ranktable: {
      version: '1.0',
      status: 'completed',
      server_group_list: instances.map(({ table }, i) => ({
        group_id: String(i),
        server_count: table.server_list.length,
        server_list: table.server_list,
      })),
    },
  };
}

/** HCCL expects an instance's rank ids to be exactly 0…N−1 in server and device order. */
function rankProblems(table: InstanceRanktable, label: string): string[] {
  const deviceless = table.server_list.filter((s) => !s.device?.length);
  if (deviceless.length > 0)
    return deviceless.map((s) => `${label}: host ${s.server_ip} has no devices (an API-server file?)`);
  const devices = table.server_list.flatMap((s) =>
    (s.device ?? []).map((d) => ({ server: s.server_ip, ...d })),
  );
  if (devices.length === 0) return [`${label} has no hosts`];
  return devices.flatMap((d, expected) =>
    d.rank_id === String(expected)
      ? []
      : [
          `${label}: host ${d.server} device ${d.device_id} has rank_id "${d.rank_id}", expected "${expected}"`,
        ],
  );
}
