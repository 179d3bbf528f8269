/**
 * The simulated network, in the machine's namespace: one bridge per instance and, per host, a
 * network namespace whose `eth0` is the far end of a veth on that bridge. Only names with the
 * instance's prefix are ever created or deleted, and nothing touches the machine's firewall or
 * routing. Batched through `ip -batch`, because 128 hosts are 500 links.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';
import { netnsOf, octetOf, vethOf, type SimContext, type SimHostSpec } from './hosts';

const run = promisify(execFile);

async function ip(args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

/** Runs `ip` commands in one process; with `force`, failures (already gone…) are ignored. */
async function ipBatch(lines: string[], force = false): Promise<void> {
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', force ? ['-force', '-batch', '-'] : ['-batch', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 || force ? resolve() : reject(new Error(`ip -batch failed: ${err.trim()}`)),
    );
    child.stdin.end(lines.join('\n') + '\n');
  });
}

export async function existingNetns(): Promise<Set<string>> {
  try {
    return new Set(fs.readdirSync('/run/netns'));
  } catch {
    return new Set();
  }
}

export type LinkStates = Map<string, 'up' | 'down'>;

export async function linkStates(): Promise<LinkStates> {
  const out = JSON.parse(await ip(['-j', 'link', 'show'])) as { ifname: string; flags: string[] }[];
  return new Map(out.map((l) => [l.ifname, l.flags.includes('UP') ? 'up' : 'down']));
}

function isMountPoint(p: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === p);
}

/** `ip netns add` mounts /run/netns on first use; whoever made that happen undoes it at the end. */
export function runNetnsMounted(): boolean {
  return fs.existsSync('/run/netns') && isMountPoint('/run/netns');
}

export async function ensureBridge(ctx: SimContext): Promise<void> {
  if ((await linkStates()).has(ctx.bridge)) return;
  // A fixed MAC: by default a bridge takes the lowest MAC of its ports and changes it as hosts
  // come and go, leaving stale neighbour entries behind in the hosts.
  const mac = `02:6f:6d:64:${ctx.instance.toString(16).padStart(2, '0')}:01`;
  await ipBatch([
    `link add name ${ctx.bridge} address ${mac} type bridge`,
    `addr add ${ctx.subnet}.1/24 dev ${ctx.bridge}`,
    `link set ${ctx.bridge} up`,
  ]);
}

/** Leftovers of hosts that died on their own: their namespace and link go before a rebuild. */
export async function removeLeftovers(
  ctx: SimContext,
  hosts: SimHostSpec[],
  links: LinkStates,
): Promise<void> {
  const netns = await existingNetns();
  await ipBatch(
    hosts.flatMap((h) => [
      ...(links.has(vethOf(ctx, h)) ? [`link del ${vethOf(ctx, h)}`] : []),
      ...(netns.has(netnsOf(ctx, h)) ? [`netns del ${netnsOf(ctx, h)}`] : []),
    ]),
    true,
  );
}

/**
 * A host's NIC address, the same every time it comes up: with a new MAC after each reboot, the
 * other hosts' neighbour caches kept sending to the old one, and a rebooted host stayed
 * unreachable from its peers (the proxy) for up to a minute while it answered itself.
 */
function hostMac(ctx: SimContext, h: SimHostSpec): string {
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  return `02:6f:6d:${hex(ctx.instance)}:${hex(octetOf(ctx, h.address) ?? 0)}:02`;
}

/** Gives each host its namespace and plugs it into the bridge. */
export async function plugHosts(ctx: SimContext, hosts: SimHostSpec[]): Promise<void> {
  await ipBatch(
    hosts.flatMap((h) => [
      `netns add ${netnsOf(ctx, h)}`,
      `link add ${vethOf(ctx, h)} type veth peer name eth0 address ${hostMac(ctx, h)} netns ${netnsOf(ctx, h)}`,
      `link set ${vethOf(ctx, h)} master ${ctx.bridge}`,
      `link set ${vethOf(ctx, h)} up`,
    ]),
  );
  // Hosts keep their MAC across a reboot (a real NIC does); entries the machine cached from before
  // the sim kept MACs stable are flushed anyway.
  await ipBatch(
    hosts.map((h) => `neigh flush to ${h.address} dev ${ctx.bridge}`),
    true,
  );
}

/** Removes a host's link and namespace (its processes must be gone first). */
export async function unplugHost(ctx: SimContext, h: SimHostSpec): Promise<void> {
  await ipBatch([`link del ${vethOf(ctx, h)}`, `netns del ${netnsOf(ctx, h)}`], true);
}

/** Cable pulled or plugged back: the machine's end of the host's veth goes down or up. */
export async function setCable(ctx: SimContext, h: SimHostSpec, up: boolean): Promise<void> {
  await ip(['link', 'set', vethOf(ctx, h), up ? 'up' : 'down']);
}

/** Namespaces with this instance's prefix, whether or not the registry knows them. */
export async function instanceNetns(ctx: SimContext): Promise<string[]> {
  return [...(await existingNetns())].filter((n) => n.startsWith(ctx.prefix));
}

/**
 * Deletes the given namespaces, every link with the instance's prefix and its bridge, and
 * /run/netns if we mounted it and nobody else's namespace is left in it.
 */
export async function removeNetwork(
  ctx: SimContext,
  netns: string[],
  mountedRunNetns: boolean,
): Promise<void> {
  const links = await linkStates();
  await ipBatch(
    [
      ...netns.map((n) => `netns del ${n}`),
      ...[...links.keys()]
        .filter((l) => l.startsWith(ctx.prefix) && l !== ctx.bridge)
        .map((l) => `link del ${l}`),
      ...(links.has(ctx.bridge) ? [`link del ${ctx.bridge}`] : []),
    ],
    true,
  );
  if (mountedRunNetns && (await existingNetns()).size === 0 && isMountPoint('/run/netns')) {
    await run('umount', ['/run/netns']).catch(() => {});
    fs.rmSync('/run/netns', { recursive: true, force: true });
  }
}
