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
      let stoppedProcesses = 0;
      const removedContainers: string[] = [];
      for (const name of input.containers) {
        const info = await cli.inspect(name);
        if (!info) continue;
        if (info.running) {
          for (const runDir of input.runDirs) {
            const r = await cli.exec(name, ['sh', '-c', STOP_RECORDED_GROUPS, 'stop', runDir], {
              signal,
              timeoutMs: 60_000,
            });
            stoppedProcesses += Number(r.stdout.trim().split('\n').pop()) || 0;
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
      return { removedContainers, stoppedProcesses };
    }),
  );
}

/**
 * TERM each recorded process group, give it 10 s, then KILL what is left; print how many groups
 * were alive. Pid files hold container-side PIDs, so this runs inside the container.
 */
const STOP_RECORDED_GROUPS = `
n=0
for f in "$1"/*.pid; do
  [ -f "$f" ] || continue
  pid=$(cat "$f")
  if kill -0 "-$pid" 2>/dev/null; then n=$((n+1)); kill -TERM "-$pid" 2>/dev/null; fi
done
for i in $(seq 100); do
  alive=0
  for f in "$1"/*.pid; do [ -f "$f" ] && kill -0 "-$(cat "$f")" 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 0.1
done
for f in "$1"/*.pid; do [ -f "$f" ] && kill -KILL "-$(cat "$f")" 2>/dev/null; rm -f "$f"; done
echo $n
`;

/** A typo'd setting must not turn into `rm -rf /data/*`: only folders two levels deep or more. */
function assertWipeable(dir: string): void {
  const parts = dir.split('/').filter(Boolean);
  if (!dir.startsWith('/') || parts.length < 2 || parts.includes('..')) {
    throw fail('ConfigError', `refusing to wipe ${dir}: not an absolute folder at least two levels deep`);
  }
}
