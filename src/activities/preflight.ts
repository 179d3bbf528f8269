import type { Remote, RemoteHost } from '../remote';
import { withHeartbeat } from './heartbeat';
import { classified, fail } from './failures';
import type { ActivityDeps } from './deps';
import type { PreflightCheck, PreflightInput } from './types';

/**
 * Everything that would make a later phase fail, checked before anything changes, with every
 * failure of the host reported at once (the seed finds these one run at a time).
 */
export async function preflight({ remote }: ActivityDeps, input: PreflightInput): Promise<PreflightCheck[]> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const sh = (script: string, ...args: string[]) =>
        remote.exec(host, ['sh', '-c', script, 'preflight', ...args], {
          check: false,
          signal,
          timeoutMs: 60_000,
        });

      // SSH itself: a refused key or unreachable host throws here, classified by the remote layer.
      await remote.exec(host, ['true'], { signal, timeoutMs: 30_000 });

      const checks: PreflightCheck[] = [];
      const add = (check: string, ok: boolean, detail: string) => checks.push({ check, ok, detail });

      const owns = await sh('ip -o -4 addr show | grep -qw -- "$1"', host.address);
      add(
        'address',
        owns.code === 0,
        owns.code === 0
          ? `${host.address} is configured on the host`
          : `the host does not own ${host.address} (ip addr); the ranktable names hosts by this address`,
      );

      const cli = remote.containers(host, input.cli);
      const version = await cli.version().then(
        (v) => ({ ok: true, detail: `${input.cli} ${v}` }),
        (e: Error) => ({ ok: false, detail: `${input.cli} does not answer: ${e.message}` }),
      );
      add('container-cli', version.ok, version.detail);
      if (version.ok) add('image', ...(await imageCheck(remote, host, input, signal)));

      if (input.modelPath) {
        const model = await sh('test -d "$1"', input.modelPath);
        add(
          'model',
          model.code === 0,
          model.code === 0 ? input.modelPath : `model path ${input.modelPath} is missing`,
        );
      }

      if (input.devicePaths.length > 0) {
        const r = await sh('for p; do [ -e "$p" ] || echo "$p"; done', ...input.devicePaths);
        const missing = r.stdout.split('\n').filter(Boolean);
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
        const r = await sh(FREE_SPACE, d.path);
        const [free, measured] = r.stdout.trim().split(' ');
        const freeBytes = Number(free) * 1024;
        const readable = r.code === 0 && /^\d+$/.test(free ?? '') && measured !== undefined;
        const ok = readable && freeBytes >= d.minFreeBytes;
        // A folder the deploy has not created yet lives on its nearest existing parent's disk.
        const where = measured === d.path ? d.path : `${measured} (where ${d.path} will be created)`;
        add(
          'disk',
          ok,
          !readable
            ? `cannot read free space of ${d.path}: ${r.stderr.trim() || r.stdout.trim()}`
            : `${formatBytes(freeBytes)} free on ${where}${ok ? '' : ` (need ${formatBytes(d.minFreeBytes)})`}`,
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
  // Pulling changes nothing a later phase would not do anyway, and it is the only way to know
  // the image can be had.
  try {
    await cli.pull(input.image, { signal, timeoutMs: 30 * 60_000 });
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
  const cli = remote.containers(host, input.cli);
  for (const name of input.ownContainers) {
    const own = await cli.inspect(name);
    if (own?.running) return [true, `held by our running container ${name}; re-deploy reuses them`];
  }
  const r = await remote.exec(host, ['ss', '-Htln'], { check: false, signal, timeoutMs: 30_000 });
  if (r.code !== 0) return [false, `cannot list listening ports (ss): ${r.stderr.trim()}`];
  const listening = new Set(
    r.stdout
      .split('\n')
      .map((line) => line.trim().split(/\s+/)[3] ?? '')
      .map((local) => Number(local.slice(local.lastIndexOf(':') + 1)))
      .filter((p) => p > 0),
  );
  const busy = input.ports.filter((p) => listening.has(p));
  return busy.length === 0
    ? [true, `${input.ports.length} ports free`]
    : [false, `port(s) ${busy.join(', ')} already in use on ${host.address}`];
}

/** Prints "<free KiB> <folder measured>": the folder, or its nearest existing parent. */
const FREE_SPACE = `p=$1
while [ ! -e "$p" ]; do p=\${p%/*}; [ -n "$p" ] || p=/; done
kb=$(df -Pk -- "$p" | awk 'NR==2 {print $4}') || exit 1
echo "$kb $p"`;

function formatBytes(n: number): string {
  return n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GiB` : `${Math.round(n / (1 << 20))} MiB`;
}
