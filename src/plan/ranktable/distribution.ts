import type { RanktableBuild } from './build';
import type { RanktableInput, RanktableLayout } from './layout';
import { allHosts, validateRanktableInput } from './validate';

/**
 * How the ranktables travel at scale. Every P and D host gets the seed's `global/` folder — the
 * same bytes everywhere (every host's local file, the merged files, the global ranktable) — plus
 * its own local files, which are copies of files in that folder. For 512 hosts × 16 devices the
 * folder is ~4.8 MB (the global ranktable alone ~1.7 MB): far too big for a Temporal payload, let
 * alone one per host. So the workflow keeps only the device IPs; one host (the seed's coordinator,
 * p0) builds the set and keeps it with an index of its content, and every other host's write
 * copies the folder from there by that content address (src/activities/ranktable.ts).
 */
export interface RanktableDistribution {
  /** The `global/` files, relative to ranktable_save_path, in build order. */
  shared: { path: string; content: string }[];
  /** Per host: its own files (relative paths), each a copy of a shared file. */
  own: Record<string, OwnRanktableFile[]>;
}

export interface OwnRanktableFile {
  path: string;
  /** The shared file with the same bytes. */
  from: string;
}

/** Device IPs per host name, in the order of the host's devices. */
export type DeviceIps = Record<string, string[]>;

/**
 * Validates the hccn_tool outputs against the layout (the checks the build makes) and keeps only
 * what the build needs of them: each host's device IPs. Throws RanktableError listing every
 * problem.
 */
export function deviceIpsOf(input: RanktableInput): DeviceIps {
  const table = validateRanktableInput(input);
  return Object.fromEntries(
    allHosts(input.layout).map((h) => [h.name, h.devices.map((d) => table.get(h.name)![d]!)]),
  );
}

/** The input of a build from kept device IPs: hccn_tool's answer as the tool prints it. */
export function ranktableInputFromIps(layout: RanktableLayout, ips: DeviceIps): RanktableInput {
  return {
    layout,
    hccn: allHosts(layout).flatMap((h) =>
      h.devices.map((device, i) => ({ host: h.name, device, output: `ipaddr:${ips[h.name]?.[i] ?? ''}\n` })),
    ),
  };
}

/** Where a host's own file is collected in `global/` (the seed's collect_files folders). */
export function collectedAs(path: string): string {
  const [folder, file] = path.split('/');
  if (folder === 'prefill_config')
    return file!.endsWith('_host.json')
      ? `global/collect_files_p/api/${file}`
      : `global/collect_files_p/${file}`;
  if (folder === 'decode_config') return `global/collect_files_d/${file}`;
  throw new Error(`not a host's own ranktable file: ${path}`);
}

/** Splits a build into the shared folder and each host's own copies, checking they are copies. */
export function ranktableDistribution(build: RanktableBuild): RanktableDistribution {
  const shared = new Map<string, string>();
  const own: Record<string, OwnRanktableFile[]> = {};
  for (const f of build.files) {
    if (f.path.startsWith('global/')) {
      const seen = shared.get(f.path);
      if (seen !== undefined && seen !== f.content) throw new Error(`${f.path} differs between hosts`);
      shared.set(f.path, f.content);
    } else {
      (own[f.host] ??= []).push({ path: f.path, from: collectedAs(f.path) });
    }
  }
  for (const f of build.files) {
    if (!f.path.startsWith('global/') && shared.get(collectedAs(f.path)) !== f.content)
      throw new Error(`${f.host}'s ${f.path} is not a copy of ${collectedAs(f.path)}`);
  }
  return { shared: [...shared].map(([path, content]) => ({ path, content })), own };
}

/** A layout with nothing but what the build reads (the Plan's ranktable plan carries file names too). */
export function bareLayout(layout: RanktableLayout): RanktableLayout {
  const bare = (h: { name: string; address: string; devices: number[] }) => ({
    name: h.name,
    address: h.address,
    devices: [...h.devices],
  });
  return {
    prefill: layout.prefill.map((p) => ({ kvRank: p.kvRank, hosts: p.hosts.map(bare) })),
    decode: layout.decode.map((d) => ({ hosts: d.hosts.map(bare) })),
  };
}
