import type { RanktableHost, RanktableInput } from './layout';
import { localRanktable, type LocalRanktables } from './local';
import { mergeAll, mergeLocal } from './merge';
import { toPythonJson } from './pythonJson';
import type { InstanceRanktable, NamedRanktable } from './types';
import { allHosts, validateRanktableInput } from './validate';

export interface RanktableFile {
  /** Inventory host name that receives the file. */
  host: string;
  /** Relative to `ranktable_save_path` on that host. */
  path: string;
  content: string;
}

export interface RanktableGroupSummary {
  groupId: string;
  role: 'prefill' | 'decode';
  /** Prefill only: the instance's kv_rank, equal to its group id. */
  kvRank?: number;
  /** Inventory host names, master first. */
  hosts: string[];
  devices: number;
}

export interface RanktableSummary {
  /** The groups of global_ranktable_merge.json, in file order. */
  groups: RanktableGroupSummary[];
  /** Hosts that receive files, in layout order. */
  receivers: string[];
  /** Entries of `files`, and the sum of their sizes: it all travels in workflow state. */
  fileCount: number;
  bytes: number;
}

export interface RanktableBuild {
  files: RanktableFile[];
  summary: RanktableSummary;
}

interface Content {
  path: string;
  content: string;
}

/**
 * The whole ranktable phase as data: validates, then produces every file every host needs, laid
 * out as the seed leaves them after its fetch / merge on p0 / rsync round trip:
 *   P host  prefill_config/<own local file>, prefill_config/<own _host file>, global/…
 *   D host  decode_config/<own local file>, global/…
 *   global/ (the same bytes on every P and D host)
 *     collect_files_p/<each P host's local file>, collect_files_p/api/<each P host's _host file>,
 *     collect_files_p/<master address>/local_ranktable_merge.json per multi-host prefill instance,
 *     collect_files_d/<each D host's local file>,
 *     collect_files_d/local_ranktable_merge.json when decode spans several hosts,
 *     global_ranktable_merge.json
 * Proxy hosts get nothing: nginx never reads a ranktable.
 */
export function buildRanktables(input: RanktableInput): RanktableBuild {
  const deviceIps = validateRanktableInput(input);
  const locals = new Map<string, LocalRanktables>(
    allHosts(input.layout).map((h) => [h.name, localRanktable({ ...h, deviceIps: deviceIps.get(h.name)! })]),
  );
  const prefill = [...input.layout.prefill]
    .sort((a, b) => a.kvRank - b.kvRank)
    .map((p) => ({ ...p, ...instanceRanktable(p.hosts, locals) }));
  const decode = input.layout.decode.map((d) => ({ ...d, ...instanceRanktable(d.hosts, locals) }));
  const global = mergeAll({ prefill: prefill.map((p) => p.table), decode: decode.map((d) => d.table) });

  const prefillHosts = prefill.flatMap((p) => p.hosts);
  const decodeHosts = decode.flatMap((d) => d.hosts);
  const local = (folder: string, h: RanktableHost) => render(folder, locals.get(h.name)!.local);
  const apiServer = (folder: string, h: RanktableHost) => render(folder, locals.get(h.name)!.apiServer);
  const shared: Content[] = [
    ...prefillHosts.map((h) => local('global/collect_files_p', h)),
    ...prefillHosts.map((h) => apiServer('global/collect_files_p/api', h)),
    // The launch scripts of multi-host instances read these merged files (behaviour spec §6.1, §6.2).
    ...prefill.flatMap((p) =>
      p.merged ? [render(`global/collect_files_p/${p.hosts[0]!.address}`, p.merged)] : [],
    ),
    ...decodeHosts.map((h) => local('global/collect_files_d', h)),
    ...decode.flatMap((d) => (d.merged ? [render('global/collect_files_d', d.merged)] : [])),
    render('global', global),
  ];
  const files = [
    ...prefillHosts.flatMap((h) =>
      [local('prefill_config', h), apiServer('prefill_config', h), ...shared].map(sentTo(h)),
    ),
    ...decodeHosts.flatMap((h) => [local('decode_config', h), ...shared].map(sentTo(h))),
  ];
  return {
    files,
    summary: {
      groups: [
        ...prefill.map((p, i) => groupSummary(String(i), 'prefill', p.hosts, p.kvRank)),
        ...decode.map((d, i) => groupSummary(String(prefill.length + i), 'decode', d.hosts)),
      ],
      receivers: [...prefillHosts, ...decodeHosts].map((h) => h.name),
      fileCount: files.length,
      bytes: files.reduce((n, f) => n + f.content.length, 0),
    },
  };
}

/** A single-host instance contributes its own file; a multi-host one its merge-local result. */
function instanceRanktable(
  hosts: RanktableHost[],
  locals: Map<string, LocalRanktables>,
): { table: InstanceRanktable; merged?: NamedRanktable<InstanceRanktable> } {
  const tables = hosts.map((h) => locals.get(h.name)!.local.ranktable);
  if (tables.length === 1) return { table: tables[0]! };
  const merged = mergeLocal(tables);
  return { table: merged.ranktable, merged };
}

function render(folder: string, file: NamedRanktable<unknown>): Content {
  return { path: `${folder}/${file.fileName}`, content: toPythonJson(file.ranktable) };
}

function sentTo(host: RanktableHost): (c: Content) => RanktableFile {
  return (c) => ({ host: host.name, path: c.path, content: c.content });
}

function groupSummary(
  groupId: string,
  role: 'prefill' | 'decode',
  hosts: RanktableHost[],
  kvRank?: number,
): RanktableGroupSummary {
  const summary = { groupId, role, hosts: hosts.map((h) => h.name), devices: 0 };
  for (const h of hosts) summary.devices += h.devices.length;
  return kvRank === undefined ? summary : { ...summary, kvRank };
}
