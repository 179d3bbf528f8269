import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { deviceIp, listFiles, parseFileList } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified } from './failures';
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
      const outputs: DeviceIpOutput[] = [];
      for (const device of input.devices) {
        const r = await cli.exec(input.container, deviceIp(device), {
          signal,
          timeoutMs: TIMEOUTS.deviceIpQuery,
        });
        outputs.push({
          device,
          output: r.code === 0 ? r.stdout : `${r.stdout}${r.stderr}`.trim() || `exit ${r.code}`,
        });
      }
      return outputs;
    }),
  );
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/**
 * Put the ranktables on a host: each file atomically (temp file + rename, so an engine never
 * reads half a file), skipped when the host already has the same bytes, then every checksum
 * verified on the host. Stale ranktables of an earlier layout are removed, as the seed's
 * `rm -rf <ranktable_save_path>/*` would.
 */
export async function writeRanktables(
  { remote }: ActivityDeps,
  input: WriteRanktablesInput,
): Promise<WriteRanktablesResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const expected = new Map(input.files.map((f) => [f.path, sha256(f.content)]));
      const full = (p: string) => `${input.root}/${p}`;
      const dirs = [...new Set(input.files.map((f) => full(f.path).replace(/\/[^/]+$/, '')))];
      const owned = new HostFiles(remote, host, input.owner, signal);
      await owned.claimDirs(input.root, dirs);
      await owned.recordFiles(
        input.root,
        input.files.map((f) => full(f.path)),
      );

      let written = 0;
      for (const f of input.files) {
        if ((await remote.sha256(host, full(f.path), { signal })) === expected.get(f.path)) continue;
        await remote.writeFileAtomic(host, full(f.path), f.content, 0o644);
        written++;
      }

      const listing = await remote.exec(host, listFiles(input.root, 'json'), {
        signal,
        timeoutMs: TIMEOUTS.ranktableListing,
      });
      const wanted = new Set(input.files.map((f) => full(f.path)));
      // Ranktables of an earlier layout that this tool wrote; anything else there is not ours.
      const stale = await owned.removeOwnedFiles(parseFileList(listing.stdout).filter((p) => !wanted.has(p)));

      const verified: Record<string, string> = {};
      for (const f of input.files) {
        const actual = await remote.sha256(host, full(f.path), { signal });
        if (actual === undefined || actual !== expected.get(f.path)) {
          // Someone else wrote there meanwhile, or the disk lied: writing again may well fix it.
          throw ApplicationFailure.retryable(
            `${full(f.path)} on ${host.name} has sha256 ${actual ?? '(missing)'} after writing, expected ${expected.get(f.path)}`,
            'RanktableWriteMismatch',
          );
        }
        verified[f.path] = actual;
      }
      return {
        written,
        unchanged: input.files.length - written,
        removedStale: stale.length,
        sha256: verified,
      };
    }),
  );
}
