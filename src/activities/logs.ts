import * as fs from 'node:fs';
import { folderExists } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { TIMEOUTS } from './timeouts';
import type { HostRef } from './types';

export interface FetchHostLogsInput {
  target: HostRef;
  /** LOG_PATH on the host. */
  remoteDir: string;
  /** LOG_PATH_IN_EXECUTOR/<host> on the executor machine (the activity runs on its task queue). */
  localDir: string;
}

export interface FetchHostLogsResult {
  /** Bytes rsync received, file list included: near zero when nothing changed since the last fetch. */
  bytesReceived: number;
  filesTransferred: number;
  /** False when the host has no log folder yet (nothing deployed there): not an error. */
  found: boolean;
}

/**
 * Pull the host's log folder into the executor's copy. rsync moves only what changed, and files
 * that disappeared from the host (rotated logs) are kept on the executor: it is an archive.
 */
export async function fetchHostLogs(
  { remote }: ActivityDeps,
  input: FetchHostLogsInput,
): Promise<FetchHostLogsResult> {
  if (!input.localDir.startsWith('/')) {
    throw fail('ConfigError', `log destination ${input.localDir} is not absolute (LOG_PATH_IN_EXECUTOR)`);
  }
  return classified(() =>
    withHeartbeat(async (signal, progress) => {
      const host = input.target;
      const present = await remote.exec(host, folderExists(input.remoteDir), {
        check: false,
        signal,
        timeoutMs: TIMEOUTS.quickCommand,
      });
      if (present.code !== 0) return { bytesReceived: 0, filesTransferred: 0, found: false };
      fs.mkdirSync(input.localDir, { recursive: true });
      const r = await remote.rsync(host, {
        direction: 'pull',
        localDir: input.localDir,
        remoteDir: input.remoteDir,
        signal,
        onOutput: (line) => progress({ rsync: line }),
      });
      return { bytesReceived: r.bytesReceived, filesTransferred: r.filesTransferred, found: true };
    }),
  );
}
