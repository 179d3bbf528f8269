import * as path from 'node:path';
import { removeRelayFolders, revokeKeys, runScriptIfPresent } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified } from './failures';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { TIMEOUTS } from './timeouts';
import type { CleanupInput, CleanupResult } from './types';

/**
 * Stop the engines this tool started (by the process groups in their pid files — never every
 * python on the machine), remove the containers, then remove exactly the files and folders the
 * host's manifest says this tool made (src/remote/ownership.ts): never "everything under a
 * configured path", and the relay keys of this cluster's code syncs. Whatever is already gone
 * is fine: cleanup runs after partial deploys and after crashes. Logs (LOG_PATH) and code (CODE_PATH) stay, as the seed's clean_up leaves them;
 * the copied image archive goes only when `image_archive_on_down: remove` names it in `files`.
 */
export async function cleanupHost({ remote }: ActivityDeps, input: CleanupInput): Promise<CleanupResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const cli = remote.containers(host, input.cli);
      let stopScriptsRun = 0;
      const removedContainers: string[] = [];
      for (const name of input.containers) {
        const info = await cli.inspect(name);
        if (!info) continue;
        if (info.running) {
          for (const script of input.stopScripts) {
            const r = await cli.exec(name, runScriptIfPresent(script), {
              signal,
              timeoutMs: TIMEOUTS.stopScript,
            });
            if (r.code === 0) stopScriptsRun++;
          }
        }
        if (await cli.remove(name)) removedContainers.push(name);
      }
      const removed = await new HostFiles(remote, host, input.owner, signal).cleanup();
      // Named files the manifest does not hold (the copied image archive), then their folder if
      // that leaves it empty: `rm -v` says whether there was one.
      for (const file of input.files ?? []) {
        const r = await remote.exec(host, ['rm', '-fv', '--', file], {
          signal,
          timeoutMs: TIMEOUTS.quickCommand,
        });
        if (r.stdout.trim() !== '') removed.files++;
        await remote.exec(host, ['rmdir', '--ignore-fail-on-non-empty', '--', path.posix.dirname(file)], {
          signal,
          timeoutMs: TIMEOUTS.quickCommand,
          check: false,
        });
      }
      // What a code sync's relay session left because its end could not reach this host then
      // (src/activities/relay.ts): this cluster's keys and folders only, found by their mark.
      const relays = { cluster: input.owner.cluster };
      await remote.exec(host, revokeKeys(relays), { signal, timeoutMs: TIMEOUTS.quickCommand });
      await remote.exec(host, removeRelayFolders(relays), { signal, timeoutMs: TIMEOUTS.quickCommand });
      return {
        removedContainers,
        stopScriptsRun,
        removedFiles: removed.files,
        removedDirs: removed.dirs,
        kept: removed.kept,
      };
    }),
  );
}
