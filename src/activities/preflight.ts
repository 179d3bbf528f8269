import type { Remote, RemoteHost } from '../remote';
import {
  folderExists,
  freeSpace,
  listeningTcp,
  missingPaths,
  ownsAddress,
  parseFreeSpace,
  parseListeningPorts,
  parseMissingPaths,
} from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { TIMEOUTS } from './timeouts';
import type { PreflightCheck, PreflightInput } from './types';

/**
 * Everything that would make a later phase fail, checked before anything changes, with every
 * failure of the host reported at once (the seed finds these one run at a time).
 */
export async function preflight({ remote }: ActivityDeps, input: PreflightInput): Promise<PreflightCheck[]> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const probe = (argv: string[]) =>
        remote.exec(host, argv, { check: false, signal, timeoutMs: TIMEOUTS.preflightProbe });

      // SSH itself: a refused key or unreachable host throws here, classified by the remote layer.
      await remote.exec(host, ['true'], { signal, timeoutMs: TIMEOUTS.sshCheck });

      const checks: PreflightCheck[] = [];
      const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });

      const owns = await probe(ownsAddress(host.address));
      add(
        'address',
        owns.code === 0,
        owns.code === 0
          ? `${host.address} is configured on the host`
          : `the host does not own ${host.address} (ip addr); the ranktable names hosts by this address`,
      );

      // On a prepared host one container-CLI call answers two checks: the image is there, so the
      // CLI answers too. Every podman call costs a process start and its storage set-up — at
      // 128 hosts on one machine that is what preflight waited for (README, bench:scale).
      const cli = remote.containers(host, input.cli);
      const present = await cli.imagePresent(input.image).catch(() => false);
      if (present) {
        add('container-cli', true, `${input.cli} answers`);
        add('image', true, `${input.image} present`);
      } else {
        const version = await cli.version().then(
          (v) => ({ ok: true, detail: `${input.cli} ${v}` }),
          (e: Error) => ({ ok: false, detail: `${input.cli} does not answer: ${e.message}` }),
        );
        add('container-cli', version.ok, version.detail);
        if (version.ok) add('image', ...(await imageCheck(remote, host, input, signal)));
      }

      if (input.modelPath) {
        const model = await probe(folderExists(input.modelPath));
        add(
          'model',
          model.code === 0,
          model.code === 0 ? input.modelPath : `model path ${input.modelPath} is missing`,
        );
      }

      if (input.devicePaths.length > 0) {
        const missing = parseMissingPaths((await probe(missingPaths(input.devicePaths))).stdout);
        add(
          'devices',
          missing.length === 0,
          missing.length === 0
            ? `${input.devicePaths.length} device nodes present`
            : `missing ${missing.join(', ')}`,
        );
      }

      if (input.ports.length > 0) add('ports', ...(await portCheck(remote, host, input, signal)));

      for (const d of input.disk) {
        const r = await probe(freeSpace(d.path));
        const space = parseFreeSpace(r);
        const ok = space !== undefined && space.freeBytes >= d.minFreeBytes;
        // A folder the deploy has not created yet lives on its nearest existing parent's disk.
        const where = (m: string) => (m === d.path ? d.path : `${m} (where ${d.path} will be created)`);
        add(
          'disk',
          ok,
          space === undefined
            ? `cannot read free space of ${d.path}: ${r.stderr.trim() || r.stdout.trim()}`
            : `${formatBytes(space.freeBytes)} free on ${where(space.measured)}${ok ? '' : ` (need ${formatBytes(d.minFreeBytes)})`}`,
        );
      }

      const failed = checks.filter((c) => !c.ok);
      if (failed.length > 0) {
        throw fail(
          'PreflightFailed',
          `preflight of ${host.name} (${host.address}) failed: ${failed.map((c) => `${c.check}: ${c.detail}`).join('; ')}`,
          checks,
        );
      }
      return checks;
    }),
  );
}

async function imageCheck(
  remote: Remote,
  host: RemoteHost,
  input: PreflightInput,
  signal: AbortSignal,
): Promise<[boolean, string]> {
  const cli = remote.containers(host, input.cli);
  if (await cli.imagePresent(input.image)) return [true, `${input.image} present`];
  if (input.imageArchive)
    return [true, `${input.image} to be loaded from ${input.imageArchive} by run_docker`];
  // Pulling changes nothing a later phase would not do anyway, and it is the only way to know
  // the image can be had.
  try {
    await cli.pull(input.image, { signal, timeoutMs: TIMEOUTS.imagePull });
    return [true, `${input.image} pulled`];
  } catch (e) {
    return [false, `image ${input.image} is not on the host and cannot be pulled: ${(e as Error).message}`];
  }
}

/** Ports our services need must be free — unless our own container of this deploy holds them. */
async function portCheck(
  remote: Remote,
  host: RemoteHost,
  input: PreflightInput,
  signal: AbortSignal,
): Promise<[boolean, string]> {
  const r = await remote.exec(host, listeningTcp(), {
    check: false,
    signal,
    timeoutMs: TIMEOUTS.quickCommand,
  });
  const listening = r.code === 0 ? parseListeningPorts(r.stdout) : undefined;
  const busy = listening ? input.ports.filter((p) => listening.has(p)) : [];
  if (listening && busy.length === 0) return [true, `${input.ports.length} ports free`];
  // Busy (or unknown): fine when our own running container holds them. Asked only now — a
  // container inspect is a podman start, and a first deploy has no container yet.
  const cli = remote.containers(host, input.cli);
  for (const name of input.ownContainers) {
    const own = await cli.inspect(name);
    if (own?.running) return [true, `held by our running container ${name}; re-deploy reuses them`];
  }
  return listening
    ? [false, `port(s) ${busy.join(', ')} already in use on ${host.address}`]
    : [false, `cannot list listening ports (ss): ${r.stderr.trim()}`];
}

function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.round(n / (1 << 20))} MiB`;
}
