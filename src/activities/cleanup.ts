import { withHeartbeat } from './heartbeat';
import { classified, fail, remoteFor } from './remoteContext';
import type { CleanupInput, CleanupResult } from './types';

/**
 * Stop the engines this tool started (by the process groups in their pid files — never every
 * python on the machine), remove the containers, wipe the scripts and ranktable folders. Whatever
 * is already gone is fine: cleanup runs after partial deploys and after crashes.
 */
export async function cleanupHost(input: CleanupInput): Promise<CleanupResult> {
  for (const dir of input.wipe) assertWipeable(dir);
  return classified(() =>
    withHeartbeat(async (signal) => {
      const { remote, host } = remoteFor(input.target);
      const cli = remote.containers(host, input.cli);
      let stopScriptsRun = 0;
      const removedContainers: string[] = [];
      for (const name of input.containers) {
        const info = await cli.inspect(name);
        if (!info) continue;
        if (info.running) {
          for (const script of input.stopScripts) {
            const r = await cli.exec(name, ['sh', '-c', '[ ! -f "$1" ] || bash "$1"', 'stop', script], {
              signal,
              timeoutMs: 5 * 60_000,
            });
            if (r.code === 0) stopScriptsRun++;
          }
        }
        if (await cli.remove(name)) removedContainers.push(name);
      }
      for (const dir of input.wipe) {
        await remote.exec(host, ['sh', '-c', '[ ! -d "$1" ] || find "$1" -mindepth 1 -delete', 'wipe', dir], {
          signal,
          timeoutMs: 5 * 60_000,
        });
      }
      return { removedContainers, stopScriptsRun };
    }),
  );
}

/** A typo'd setting must not turn into `rm -rf /data/*`: only folders two levels deep or more. */
function assertWipeable(dir: string): void {
  const parts = dir.split('/').filter(Boolean);
  if (!dir.startsWith('/') || parts.length < 2 || parts.includes('..')) {
    throw fail('ConfigError', `refusing to wipe ${dir}: not an absolute folder at least two levels deep`);
  }
}
