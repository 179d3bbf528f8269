import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { sleep } from '@temporalio/activity';
import { MANIFEST_FILE, SERVER_START_MARKER, manifestFile } from '../plan/launch/files';
import type { Remote, RemoteHost } from '../remote';
import {
  deadPids as deadPidsCommand,
  logSinceLastStart,
  parseDeadPids,
  parseReadyPorts,
  probeApiServers,
  readFile,
  removeFiles,
  runScript,
} from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { TIMEOUTS } from './timeouts';
import type {
  EngineLaunchInput,
  EngineLaunchResult,
  EngineReadyInput,
  EngineReadyResult,
  LaunchedEngine,
} from './types';

/** sha256 of the launch script whose servers run (or are starting), beside their manifest. */
const LAUNCHED_HASH = 'launched.sha256';

/** What the launch script writes to servers.json once its servers are started. */
interface Manifest {
  ray: 'head' | 'worker' | 'none';
  servers: LaunchedEngine[];
}

async function readManifest(
  remote: Remote,
  host: RemoteHost,
  runDir: string,
  signal: AbortSignal,
): Promise<Manifest | undefined> {
  const r = await remote.exec(host, readFile(manifestFile(runDir)), {
    check: false,
    signal,
    timeoutMs: TIMEOUTS.quickCommand,
  });
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
  signal: AbortSignal,
): Promise<number[]> {
  if (pids.length === 0) return [];
  const r = await remote
    .containers(host, input.cli)
    .exec(input.container, deadPidsCommand(pids), { signal, timeoutMs: TIMEOUTS.quickCommand });
  return parseDeadPids(r, pids);
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
      const before = await readManifest(remote, host, input.runDir, signal);
      const recorded = await remote.exec(host, readFile(`${input.runDir}/${LAUNCHED_HASH}`), {
        check: false,
        signal,
        timeoutMs: TIMEOUTS.quickCommand,
      });
      if (before && !input.force && recorded.stdout.trim() === hash) {
        const dead = await deadPids(
          remote,
          host,
          input,
          before.servers.map((s) => s.pid),
          signal,
        );
        if (dead.length === 0) return { action: 'kept', servers: before.servers };
      }

      const cli = remote.containers(host, input.cli);
      if (before) {
        const stop = await cli.exec(input.container, runScript(input.stopScriptPath), {
          signal,
          timeoutMs: TIMEOUTS.stopScript,
        });
        if (stop.code !== 0) {
          throw ApplicationFailure.retryable(
            `stopping the old servers on ${host.name} failed: ${tail(stop.stderr || stop.stdout)}`,
            'EngineStopFailed',
          );
        }
      }
      await remote.exec(host, removeFiles([`${input.runDir}/${LAUNCHED_HASH}`]), {
        signal,
        timeoutMs: TIMEOUTS.quickCommand,
      });
      const run = await cli.exec(input.container, runScript(input.launchScriptPath), {
        signal,
        timeoutMs: TIMEOUTS.launchScript,
      });
      if (run.code !== 0) {
        const why = tail(run.stderr || run.stdout);
        throw fail(
          /already in use/.test(why) ? 'PortBusy' : 'EngineLaunchFailed',
          `run_server on ${host.name} (${host.address}) failed: ${why}`,
        );
      }
      await remote.writeFileAtomic(host, `${input.runDir}/${LAUNCHED_HASH}`, `${hash}\n`);
      const after = await readManifest(remote, host, input.runDir, signal);
      if (!after) throw fail('EngineLaunchFailed', `run_server on ${host.name} wrote no ${MANIFEST_FILE}`);
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
      const manifest = await readManifest(remote, host, input.runDir, signal);
      if (!manifest)
        throw fail(
          'EngineLaunchFailed',
          `no ${MANIFEST_FILE} in ${input.runDir} on ${host.name}: run_server did not start`,
        );
      if (manifest.servers.length === 0) return { servers: 0, waitedMs: 0 }; // a Ray worker serves no API
      let pending = manifest.servers;
      for (;;) {
        const probe = await remote.exec(
          host,
          probeApiServers({
            address: input.address,
            model: input.servedModelName,
            ports: pending.map((s) => s.port),
            requestTimeoutMs: TIMEOUTS.readinessRequest,
          }),
          { check: false, signal, timeoutMs: TIMEOUTS.readinessRound },
        );
        const ready = parseReadyPorts(probe.stdout);
        pending = pending.filter((s) => !ready.has(s.port));
        progress({ ready: manifest.servers.length - pending.length, of: manifest.servers.length });
        if (pending.length === 0) return { servers: manifest.servers.length, waitedMs: Date.now() - started };
        // Only servers not answering yet are looked for among the dead (a `podman exec`: the probe
        // above is a curl, this starts the container CLI).
        const dead = await deadPids(
          remote,
          host,
          input,
          pending.map((s) => s.pid),
          signal,
        );
        if (dead.length > 0) {
          const server = pending.find((s) => s.pid === dead[0])!;
          // The log is appended to across starts: only this start's lines, or an operator reads
          // an earlier run's errors as the cause.
          const log = await remote.exec(host, logSinceLastStart(server.log, SERVER_START_MARKER), {
            check: false,
            signal,
            timeoutMs: TIMEOUTS.quickCommand,
          });
          throw fail(
            'EngineDied',
            `the engine on ${host.name}:${server.port} (DP rank ${server.dpRank}) exited while starting; last lines of ${server.log}:\n${log.stdout.trim()}`,
          );
        }
        if (Date.now() - started > input.budgetMs) {
          throw fail(
            'EngineNotReady',
            `${host.name}: API server(s) on port ${pending.map((s) => s.port).join(', ')} not ready after ${Math.round(input.budgetMs / 1000)} s (engine_ready_timeout)`,
          );
        }
        await sleep(input.pollMs ?? TIMEOUTS.readinessPoll);
      }
    }),
  );
}
