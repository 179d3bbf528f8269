import type { RanktableHostFiles, RanktablePlan } from './types';

export interface RanktableMember {
  name: string;
  address: string;
  devices: number[];
}

/** Devices are concatenated without separators (0..15 → `0123456789101112131415`), as omniinfer does. */
export const deviceFileName = (address: string, devices: readonly number[]) =>
  `local_ranktable_${address}_${devices.join('')}.json`;

const MERGED = 'local_ranktable_merge.json';

function hostFiles(h: RanktableMember, configDir: string, prefill: boolean): RanktableHostFiles {
  return {
    name: h.name,
    address: h.address,
    devices: [...h.devices],
    configDir,
    deviceFile: deviceFileName(h.address, h.devices),
    apiServerFile: prefill ? `local_ranktable_${h.address}_host.json` : null,
  };
}

/**
 * The seed's ranktable folders (§4.2). Instances and their hosts come master first: the master's
 * address names a multi-host instance's merge folder, and its devices take the first ranks.
 */
export function ranktablePlan(
  saveDir: string,
  coordinator: string,
  prefill: readonly { kvRank: number; hosts: RanktableMember[] }[],
  decode: readonly { hosts: RanktableMember[] }[],
): RanktablePlan {
  const globalDir = `${saveDir}/global`;
  return {
    saveDir,
    coordinator,
    globalDir,
    globalFile: `${globalDir}/global_ranktable_merge.json`,
    executor: {
      collectPrefillDir: `${saveDir}/collect_files_p`,
      collectPrefillApiDir: `${saveDir}/collect_files_p/api`,
      collectDecodeDir: `${saveDir}/collect_files_d`,
      globalDir,
    },
    prefill: prefill.map((i) => {
      const hosts = i.hosts.map((h) => hostFiles(h, `${saveDir}/prefill_config`, true));
      const merged = hosts.length > 1 ? `${globalDir}/collect_files_p/${hosts[0]!.address}/${MERGED}` : null;
      return {
        kvRank: i.kvRank,
        hosts,
        mergedFile: merged,
        rankTableFile: merged ?? `${hosts[0]!.configDir}/${hosts[0]!.deviceFile}`,
      };
    }),
    decode: decode.map((i) => {
      const hosts = i.hosts.map((h) => hostFiles(h, `${saveDir}/decode_config`, false));
      const merged = hosts.length > 1 ? `${globalDir}/collect_files_d/${MERGED}` : null;
      return {
        hosts,
        mergedFile: merged,
        rankTableFile: merged ?? `${hosts[0]!.configDir}/${hosts[0]!.deviceFile}`,
      };
    }),
  };
}

/**
 * A host's own ranktable files (relative to ranktable_save_path), each with the file of the
 * shared `global/` folder it is a copy of; none for a host without ranktables (the proxy).
 */
export function ownRanktableFiles(rt: RanktablePlan, host: string): { path: string; from: string }[] {
  const files = [...rt.prefill, ...rt.decode].flatMap((i) => i.hosts).find((h) => h.name === host);
  if (!files) return [];
  const folder = files.configDir.slice(rt.saveDir.length + 1);
  const collect = folder === 'prefill_config' ? 'global/collect_files_p' : 'global/collect_files_d';
  return [
    { path: `${folder}/${files.deviceFile}`, from: `${collect}/${files.deviceFile}` },
    ...(files.apiServerFile
      ? [{ path: `${folder}/${files.apiServerFile}`, from: `${collect}/api/${files.apiServerFile}` }]
      : []),
  ];
}
