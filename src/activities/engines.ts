import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { sleep } from '@temporalio/activity';
import { SERVER_START_MARKER } from '../plan/launch/files';
import type { Remote, RemoteHost } from '../remote';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { classified, fail } from './failures';
import type { ActivityDeps } from './deps';
import type {
  EngineLaunchInput,
  EngineLaunchResult,
  EngineReadyInput,
  EngineReadyResult,
  LaunchedEngine,
} from './types';

const MANIFEST = 'servers.json';
const LAUNCHED_HASH = 'launched.sha256';

interface Manifest {
  ray: 'head' | 'worker' | 'none';
  servers: LaunchedEngine[];
}

async function readManifest(remote: Remote, host: RemoteHost, runDir: string): Promise<Manifest | undefined> {
  const r = await remote.exec(host, ['cat', `${runDir}/${MANIFEST}`], { check: false, timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  try {
    return JSON.parse(r.stdout) as Manifest;
  } catch {
    return undefined;
  }
}

/** PIDs of the manifest that are gone; engine PIDs live in the container's PID namespace. */
async function deadPids(
  remote: Remote,
  host: RemoteHost,
  input: { cli: EngineLaunchInput['cli']; container: string },
  pids: number[],
) {
  if (pids.length === 0) return [];
  const r = await remote
    .containers(host, input.cli)
    .exec(
      input.container,
      ['sh', '-c', 'for p; do kill -0 "$p" 2>/dev/null || echo "$p"; done', 'alive', ...pids.map(String)],
      {
        timeoutMs: 30_000,
      },
    );
  if (r.code !== 0 && /no such container|is not running/i.test(r.stderr)) return pids;
  return r.stdout.split('\n').filter(Boolean).map(Number);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const tail = (text: string, n = 12) => text.trim().split('\n').slice(-n).join('\n');

/**
 * Ensure this host's engine servers run the given launch script: kept when the same script's
 * servers are all alive, otherwise the recorded process groups are stopped and the script runs
 * again. The script itself refuses busy ports and starts each server in its own process group.
 */
export async function launchEngines(
  { remote }: ActivityDeps,
  input: EngineLaunchInput,
): Promise<EngineLaunchResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const scriptsDir = input.launchScriptPath.replace(/\/[^/]+$/, '');
      const files = new HostFiles(remote, host, input.owner, signal);
      await files.claimDirs(input.scriptsRoot, [scriptsDir, input.runDir]);
      // What the scripts will create is recorded before they run: cleanup must know it even if
      // the worker dies right after.
      await files.recordFiles(input.scriptsRoot, [
        input.launchScriptPath,
        input.stopScriptPath,
        `${input.runDir}/${LAUNCHED_HASH}`,
        ...input.runtimeFiles,
      ]);
      await remote.writeFileAtomic(host, input.launchScriptPath, input.launchScript, 0o755);
      await remote.writeFileAtomic(host, input.stopScriptPath, input.stopScript, 0o755);

      const hash = sha256(input.launchScript);
      const before = await readManifest(remote, host, input.runDir);
      const recorded = await remote.exec(host, ['cat', `${input.runDir}/${LAUNCHED_HASH}`], {
        check: false,
        signal,
      });
      if (before && !input.force && recorded.stdout.trim() === hash) {
        const dead = await deadPids(
          remote,
          host,
          input,
          before.servers.map((s) => s.pid),
        );
        if (dead.length === 0) return { action: 'kept', servers: before.servers };
      }

      const cli = remote.containers(host, input.cli);
      if (before) {
        const stop = await cli.exec(input.container, ['bash', input.stopScriptPath], {
          signal,
          timeoutMs: 5 * 60_000,
        });
        if (stop.code !== 0) {
          throw ApplicationFailure.retryable(
            `stopping the old servers on ${host.name} failed: ${tail(stop.stderr || stop.stdout)}`,
            'EngineStopFailed',
          );
        }
      }
      await remote.exec(host, ['rm', '-f', `${input.runDir}/${LAUNCHED_HASH}`], { signal });
      const run = await cli.exec(input.container, ['bash', input.launchScriptPath], {
        signal,
        timeoutMs: 10 * 60_000,
      });
      if (run.code !== 0) {
        const why = tail(run.stderr || run.stdout);
        throw fail(
          /already in use/.test(why) ? 'PortBusy' : 'EngineLaunchFailed',
          `run_server on ${host.name} (${host.address}) failed: ${why}`,
        );
      }
      await remote.writeFileAtomic(host, `${input.runDir}/${LAUNCHED_HASH}`, `${hash}\n`);
      const after = await readManifest(remote, host, input.runDir);
      if (!after) throw fail('EngineLaunchFailed', `run_server on ${host.name} wrote no ${MANIFEST}`);
      return { action: before ? 'restarted' : 'started', servers: after.servers };
    }),
  );
}

/**
 * Readiness instead of the seed's fixed sleeps: every server's process alive, `/health` 200 and
 * `/v1/models` listing the served model. A server that dies while starting fails the step at once
 * with the end of its log — no waiting out the budget for an engine that refused its arguments.
 */
export async function awaitEnginesReady(
  { remote }: ActivityDeps,
  input: EngineReadyInput,
): Promise<EngineReadyResult> {
  return classified(() =>
    withHeartbeat(async (signal, progress) => {
      const host = input.target;
      const started = Date.now();
      const manifest = await readManifest(remote, host, input.runDir);
      if (!manifest)
        throw fail(
          'EngineLaunchFailed',
          `no ${MANIFEST} in ${input.runDir} on ${host.name}: run_server did not start`,
        );
      if (manifest.servers.length === 0) return { servers: 0, waitedMs: 0 }; // a Ray worker serves no API
      let pending = manifest.servers;
      for (;;) {
        const dead = await deadPids(
          remote,
          host,
          input,
          pending.map((s) => s.pid),
        );
        if (dead.length > 0) {
          const server = pending.find((s) => s.pid === dead[0])!;
          // The log is appended to across starts: only this start's lines, or an operator reads
          // an earlier run's errors as the cause.
          const log = await remote.exec(
            host,
            ['sh', '-c', THIS_START, 'tail', server.log, SERVER_START_MARKER],
            {
              check: false,
              signal,
            },
          );
          throw fail(
            'EngineDied',
            `the engine on ${host.name}:${server.port} (DP rank ${server.dpRank}) exited while starting; last lines of ${server.log}:\n${log.stdout.trim()}`,
          );
        }
        const probe = await remote.exec(
          host,
          [
            'sh',
            '-c',
            PROBE,
            'probe',
            input.address,
            input.servedModelName,
            ...pending.map((s) => String(s.port)),
          ],
          {
            check: false,
            signal,
            timeoutMs: 60_000,
          },
        );
        const ready = new Set(
          probe.stdout
            .split('\n')
            .filter((l) => l.endsWith(' ready'))
            .map((l) => Number(l.split(' ')[0])),
        );
        pending = pending.filter((s) => !ready.has(s.port));
        progress({ ready: manifest.servers.length - pending.length, of: manifest.servers.length });
        if (pending.length === 0) return { servers: manifest.servers.length, waitedMs: Date.now() - started };
        if (Date.now() - started > input.budgetMs) {
          throw fail(
            'EngineNotReady',
            `${host.name}: API server(s) on port ${pending.map((s) => s.port).join(', ')} not ready after ${Math.round(input.budgetMs / 1000)} s (engine_ready_timeout)`,
          );
        }
        await sleep(input.pollMs ?? 1000);
      }
    }),
  );
}

/** The last 20 lines of a log ($1) from the last line starting with $2 on (all of it without one). */
const THIS_START = 'tac "$1" | sed "/^$2/q" | tac | tail -n 20';

/** Prints "<port> ready" for each port whose /health is 200 and whose /v1/models names the model. */
const PROBE = `
addr=$1; model=$2; shift 2
for port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 "http://$addr:$port/health")
  if [ "$code" = 200 ] && curl -s --max-time 3 "http://$addr:$port/v1/models" | grep -qF "\\"$model\\""; then
    echo "$port ready"
  else
    echo "$port waiting"
  fi
done
`;
