import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import {
  buildRanktables,
  RanktableError,
  ranktableDistribution,
  ranktableInputFromIps,
  type OwnRanktableFile,
} from '../plan/ranktable';
import type { Remote, RemoteHost } from '../remote';
import {
  deviceIps,
  parseDeviceIps,
  installFiles,
  listFiles,
  packFiles,
  parseFileList,
  parseInstalledFiles,
  readFile,
} from '../remote/commands';
import { packTar, unpackTar } from '../remote/tar';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { TIMEOUTS } from './timeouts';
import type {
  DeviceIpOutput,
  ReadDeviceIpsInput,
  WriteRanktablesInput,
  WriteRanktablesResult,
} from './types';

/**
 * Ask `hccn_tool` for each device's IP inside the host's container. Only gathers raw output: the
 * ranktables are built from it by pure code in the workflow, which validates and quotes it.
 */
export async function readDeviceIps(
  { remote }: ActivityDeps,
  input: ReadDeviceIpsInput,
): Promise<DeviceIpOutput[]> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const cli = remote.containers(host, input.cli);
      if (input.devices.length === 0) return [];
      // All devices in one container exec (one CLI start per host, not one per device).
      const r = await cli.exec(input.container, deviceIps(input.devices), {
        signal,
        timeoutMs: TIMEOUTS.deviceIpQuery * input.devices.length,
      });
      const answers = new Map(parseDeviceIps(r.stdout).map((a) => [a.device, a]));
      return input.devices.map((device): DeviceIpOutput => {
        const a = answers.get(device);
        if (!a) return { device, output: `${r.stdout}${r.stderr}`.trim() || `exit ${r.code}` };
        return { device, output: a.code === 0 ? a.output : a.output.trim() || `exit ${a.code}` };
      });
    }),
  );
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * The coordinator's index of the shared folder, `sha256sum` lines sorted by path (`sha256sum -c`
 * checks it on the host); its own sha256 is the set's content address.
 */
export const RANKTABLE_INDEX = '.omni-deploy-ranktables.sha256';

/** One content-addressed shared folder: path → bytes, and its index. */
export interface SharedRanktables {
  hash: string;
  index: string;
  files: Map<string, Buffer>;
}

function sharedSet(files: { path: string; content: Buffer }[]): SharedRanktables {
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const index = sorted.map((f) => `${sha256(f.content)}  ${f.path}\n`).join('');
  return { hash: sha256(index), index, files: new Map(sorted.map((f) => [f.path, f.content])) };
}

/**
 * Shared folders this worker built or fetched, by content address: a 512-host deploy copies the
 * same ~5 MB to every host, fetched from the coordinator at most once per worker. A few entries:
 * one deploy (and maybe a repair of another cluster) at a time.
 */
export class RanktableSets {
  private readonly sets = new Map<string, Promise<SharedRanktables>>();

  constructor(private readonly limit = 4) {}

  get(hash: string, load: () => Promise<SharedRanktables>): Promise<SharedRanktables> {
    let entry = this.sets.get(hash);
    if (!entry) {
      entry = load();
      this.remember(hash, entry);
      entry.catch(() => this.sets.delete(hash));
    }
    return entry;
  }

  put(set: SharedRanktables): void {
    this.remember(set.hash, Promise.resolve(set));
  }

  private remember(hash: string, entry: Promise<SharedRanktables>): void {
    this.sets.delete(hash);
    this.sets.set(hash, entry);
    while (this.sets.size > this.limit) this.sets.delete(this.sets.keys().next().value!);
  }
}

/**
 * Put the ranktables on a host: every file at once (one tar stream, one command however many
 * there are), each written only when its bytes differ and renamed into place (an engine never
 * reads half a file), then every checksum verified on the host. Ranktables of an earlier layout
 * that this tool wrote are removed, as the seed's `rm -rf <ranktable_save_path>/*` would.
 *
 * Three forms (WriteRanktablesInput): the bytes inline (older runs); `build` on the coordinator,
 * which builds the set from the device IPs and keeps the shared folder with its index; `copy` on
 * every other host, which takes the shared folder from the coordinator by content address.
 */
export async function writeRanktables(
  deps: ActivityDeps,
  input: WriteRanktablesInput,
): Promise<WriteRanktablesResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      if (input.build) return buildOnCoordinator(deps, input, input.build, signal);
      if (input.copy) return copyFromCoordinator(deps, input, input.copy, signal);
      const files = (input.files ?? []).map((f) => ({
        path: f.path,
        content: Buffer.from(f.content, 'utf8'),
      }));
      const r = await installRanktables(deps.remote, input, files, signal);
      return { ...r, sha256: Object.fromEntries(files.map((f) => [f.path, sha256(f.content)])) };
    }),
  );
}

async function buildOnCoordinator(
  deps: ActivityDeps,
  input: WriteRanktablesInput,
  build: NonNullable<WriteRanktablesInput['build']>,
  signal: AbortSignal,
): Promise<WriteRanktablesResult> {
  let distribution;
  try {
    distribution = ranktableDistribution(
      buildRanktables(ranktableInputFromIps(build.layout, build.deviceIps)),
    );
  } catch (err) {
    if (err instanceof RanktableError) throw fail('RanktableError', err.message);
    throw err;
  }
  const set = sharedSet(
    distribution.shared.map((f) => ({ path: f.path, content: Buffer.from(f.content, 'utf8') })),
  );
  const files = [
    ...ownCopies(set, input.own ?? []),
    ...[...set.files].map(([path, content]) => ({ path, content })),
    // Last in the stream, so a copy never sees an index whose files are not all in place.
    { path: RANKTABLE_INDEX, content: Buffer.from(set.index, 'utf8') },
  ];
  const r = await installRanktables(deps.remote, input, files, signal);
  deps.ranktables?.put(set);
  const bytes = [...set.files.values()].reduce((n, b) => n + b.length, 0);
  return { ...r, hash: set.hash, shared: { files: set.files.size, bytes } };
}

async function copyFromCoordinator(
  deps: ActivityDeps,
  input: WriteRanktablesInput,
  copy: NonNullable<WriteRanktablesInput['copy']>,
  signal: AbortSignal,
): Promise<WriteRanktablesResult> {
  const load = () => fetchShared(deps.remote, copy.source, input.root, copy.hash, signal);
  const set = await (deps.ranktables ? deps.ranktables.get(copy.hash, load) : load());
  const files = [
    ...ownCopies(set, input.own ?? []),
    ...[...set.files].map(([path, content]) => ({ path, content })),
  ];
  const r = await installRanktables(deps.remote, input, files, signal);
  return { ...r, hash: set.hash };
}

function ownCopies(
  set: SharedRanktables,
  own: readonly OwnRanktableFile[],
): { path: string; content: Buffer }[] {
  return own.map((f) => {
    const content = set.files.get(f.from);
    if (!content)
      throw fail('RanktableError', `${f.path} should copy ${f.from}, which the ranktable set lacks`);
    return { path: f.path, content };
  });
}

/**
 * The shared folder as the coordinator holds it, checked against its content address: the
 * index's hash, then every file's against the index. A coordinator whose set changed (a newer
 * deploy, a lost disk) fails with RanktableSourceChanged: the workflow builds the set again.
 */
async function fetchShared(
  remote: Remote,
  source: RemoteHost,
  root: string,
  hash: string,
  signal: AbortSignal,
): Promise<SharedRanktables> {
  const changed = (why: string) =>
    fail(
      'RanktableSourceChanged',
      `the ranktable set ${hash.slice(0, 12)} is not on ${source.name} (${root}) any more: ${why}`,
    );
  const idx = await remote.exec(source, readFile(`${root}/${RANKTABLE_INDEX}`), {
    check: false,
    signal,
    timeoutMs: TIMEOUTS.quickCommand,
  });
  if (idx.code !== 0) throw changed(`its index cannot be read (${idx.stderr.trim()})`);
  if (sha256(idx.stdout) !== hash) throw changed('its index has another content');
  const expected = new Map(
    idx.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [digest, ...path] = line.split('  ');
        return [path.join('  '), digest!] as const;
      }),
  );
  const tar = await remote.exec(source, packFiles(root), {
    check: false,
    signal,
    stdin: [...expected.keys()].join('\n') + '\n',
    binaryStdout: true,
    timeoutMs: TIMEOUTS.ranktableListing,
  });
  if (tar.code !== 0) throw changed(`reading it failed (${tar.stderr.trim()})`);
  const files = unpackTar(tar.stdoutBytes!);
  for (const f of files) {
    if (expected.get(f.path) !== sha256(f.content)) throw changed(`${f.path} differs from its index`);
  }
  if (files.length !== expected.size) throw changed(`${expected.size - files.length} file(s) missing`);
  return { hash, index: idx.stdout, files: new Map(files.map((f) => [f.path, f.content])) };
}

/** Write the files under `root` (claimed and recorded first), verify them, remove stale ones. */
async function installRanktables(
  remote: Remote,
  input: WriteRanktablesInput,
  files: { path: string; content: Buffer }[],
  signal: AbortSignal,
): Promise<Omit<WriteRanktablesResult, 'sha256' | 'hash'>> {
  const host = input.target;
  const full = (p: string) => `${input.root}/${p}`;
  const dirs = [...new Set(files.map((f) => full(f.path).replace(/\/[^/]+$/, '')))];
  const owned = new HostFiles(remote, host, input.owner, signal);
  await owned.claimDirs(input.root, dirs);
  await owned.recordFiles(
    input.root,
    files.map((f) => full(f.path)),
  );

  let written = 0;
  if (files.length > 0) {
    const r = await remote.exec(host, installFiles(input.root), {
      signal,
      stdin: packTar(files),
      timeoutMs: TIMEOUTS.ranktableListing,
    });
    const installed = parseInstalledFiles(r.stdout);
    for (const f of files) {
      const actual = installed.sha256.get(f.path);
      if (actual !== sha256(f.content)) {
        // Someone else wrote there meanwhile, or the disk lied: writing again may well fix it.
        throw ApplicationFailure.retryable(
          `${full(f.path)} on ${host.name} has sha256 ${actual ?? '(missing)'} after writing, expected ${sha256(f.content)}`,
          'RanktableWriteMismatch',
        );
      }
    }
    written = installed.written;
  }

  const listing = await remote.exec(host, listFiles(input.root, 'json'), {
    signal,
    timeoutMs: TIMEOUTS.ranktableListing,
  });
  const wanted = new Set(files.map((f) => full(f.path)));
  // Ranktables of an earlier layout that this tool wrote; anything else there is not ours.
  const stale = await owned.removeOwnedFiles(parseFileList(listing.stdout).filter((p) => !wanted.has(p)));
  return { written, unchanged: files.length - written, removedStale: stale.length };
}
