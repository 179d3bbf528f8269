/**
 * The cluster as a whole: `up` (idempotent: running hosts are left alone, missing, powered-off
 * or dead ones are built or rebuilt with their disks), `status`, and `down`, which removes
 * everything `up` made. Composes the other sim modules in the order a host needs them: machine
 * and images, keys, bridge, disk, namespace and cable, init process, sshd.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { simScript } from './scripts';
import { promisify } from 'node:util';
import { SIM_MODEL_PATH, prepareDisk } from './disks';
import {
  netnsOf,
  simContext,
  validateSpecs,
  vethOf,
  type SimContext,
  type SimHostSpec,
  type SimHostStatus,
} from './hosts';
import {
  defaultSimEngine,
  dockerArchives,
  loadImagesScript,
  requireDockerBinaries,
  type SimEngine,
} from './containerEngine';
import { ensureImages, simImages } from './images';
import { ensureClientKey, writeClientFiles } from './keys';
import {
  ensureBridge,
  instanceNetns,
  linkStates,
  plugHosts,
  removeLeftovers,
  removeNetwork,
  runNetnsMounted,
  unplugHost,
  type LinkStates,
} from './network';
import {
  hostExec,
  killNetnsProcesses,
  runningInit,
  startHost,
  stopHostProcesses,
  waitSshd,
} from './processes';
import { clusterFiles, hostFiles, readRegistry, withLock, writeRegistry, type Registry } from './state';

const run = promisify(execFile);

export interface SimCluster {
  instance: number;
  stateDir: string;
  /** Private key the tool logs in with (user root). */
  keyPath: string;
  /** known_hosts with every host's key: use with StrictHostKeyChecking=yes. */
  knownHostsPath: string;
  /** An OpenSSH client config naming every host (`ssh -F … <name>`). */
  sshConfigPath: string;
  images: { engine: string; proxy: string };
  /** What `docker` is on the hosts (sim/containerEngine.ts). */
  containerEngine: SimEngine;
  modelPath: string;
  hosts: SimHostStatus[];
}

export interface UpOptions {
  ctx?: SimContext;
  /** NPU devices per host (default 16). */
  devices?: number;
  /** The hosts' container engine for a new cluster (default OMNI_SIM_ENGINE, else podman). */
  engine?: SimEngine;
  log?: (line: string) => void;
}

/** Machine-wide container settings (sim/setup-machine.sh), once. */
async function ensureMachine(ctx: SimContext): Promise<void> {
  if (!fs.existsSync('/etc/containers/containers.conf') || !fs.existsSync('/data')) {
    await run(simScript('setup-machine.sh'));
  }
  fs.mkdirSync(ctx.dir, { recursive: true });
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function hostStatus(ctx: SimContext, h: SimHostSpec, links: LinkStates): SimHostStatus {
  const init = runningInit(ctx, h.name);
  const off = fs.existsSync(hostFiles(ctx, h.name).off);
  return {
    ...h,
    netns: netnsOf(ctx, h),
    veth: vethOf(ctx, h),
    state: init ? 'running' : off ? 'off' : 'dead',
    link: links.get(vethOf(ctx, h)) ?? 'absent',
    pid: init ? init.pid : null,
  };
}

function describe(ctx: SimContext, reg: Registry, links: LinkStates): SimCluster {
  const f = clusterFiles(ctx);
  return {
    instance: ctx.instance,
    stateDir: ctx.dir,
    keyPath: f.key,
    knownHostsPath: f.knownHosts,
    sshConfigPath: f.sshConfig,
    images: simImages(ctx),
    containerEngine: reg.engine ?? 'podman',
    modelPath: SIM_MODEL_PATH,
    hosts: reg.hosts.map((h) => hostStatus(ctx, h, links)),
  };
}

/** Stops a host's processes and removes its namespace and cable; its disk stays. */
export async function stopHost(ctx: SimContext, h: SimHostSpec): Promise<void> {
  await stopHostProcesses(ctx, h);
  await unplugHost(ctx, h);
}

/**
 * Brings the given hosts up (idempotent: running hosts are left alone, powered-off or dead ones
 * are started again with their disks). Returns every host of the cluster.
 */
export async function simUp(specs: SimHostSpec[], opts: UpOptions = {}): Promise<SimCluster> {
  const ctx = opts.ctx ?? simContext();
  const log = opts.log ?? (() => {});
  return withLock(ctx, async () => {
    const reg = readRegistry(ctx);
    validateSpecs(ctx, specs, reg.hosts);
    const engine = clusterEngine(ctx, reg, opts.engine);
    if (engine === 'docker') requireDockerBinaries();
    reg.engine = engine;
    await ensureMachine(ctx);
    const t0 = Date.now();
    const { images, summary } = await ensureImages(ctx);
    log(summary);
    const archives = engine === 'docker' ? await dockerArchives(images) : undefined;
    log(`images ready in ${Date.now() - t0} ms`);
    await ensureClientKey(ctx);
    await ensureBridge(ctx);
    if (!runNetnsMounted()) reg.mountedRunNetns = true;
    for (const h of specs) if (!reg.hosts.some((k) => k.name === h.name)) reg.hosts.push(h);
    writeRegistry(ctx, reg);

    const links = await linkStates();
    const todo = specs.filter((h) => hostStatus(ctx, h, links).state !== 'running');
    await removeLeftovers(ctx, todo, links);
    await mapLimit(todo, 8, (h) => prepareDisk(ctx, h, reg.hosts, opts.devices ?? 16, engine));
    await plugHosts(ctx, todo);
    await mapLimit(todo, 16, async (h) => {
      fs.rmSync(hostFiles(ctx, h.name).off, { force: true });
      await startHost(ctx, h, engine);
    });
    await mapLimit(todo, 32, (h) => waitSshd(ctx, h));
    if (archives) {
      const script = loadImagesScript(archives);
      await mapLimit(todo, 4, (h) => hostExec(h.name, ['/bin/bash', '-c', script], undefined, ctx));
    }
    writeClientFiles(ctx, reg.hosts);
    log(`${todo.length} host(s) started, ${specs.length - todo.length} already running`);
    return describe(ctx, reg, await linkStates());
  });
}

/** The engine of the cluster: the one it was brought up with, or for a new one the one asked. */
function clusterEngine(ctx: SimContext, reg: Registry, asked: SimEngine | undefined): SimEngine {
  const current = reg.hosts.length > 0 ? (reg.engine ?? 'podman') : undefined;
  const engine = asked ?? current ?? defaultSimEngine();
  if (current !== undefined && engine !== current) {
    throw new Error(
      `simulated cluster ${ctx.instance} runs ${current} on its hosts, not ${engine}; run sim down first`,
    );
  }
  return engine;
}

export async function simStatus(ctx = simContext()): Promise<SimCluster> {
  return describe(ctx, readRegistry(ctx), await linkStates());
}

/**
 * Removes everything `simUp` made: host processes (by recorded PID and start time), namespaces
 * and links with this instance's prefix, the bridge, the hosts' disks, /run/netns if we mounted it.
 */
export async function simDown(ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    const reg = readRegistry(ctx);
    await mapLimit(reg.hosts, 16, (h) => stopHost(ctx, h));
    // Namespaces left from a lost registry: their processes are ours by construction.
    const stray = await instanceNetns(ctx);
    for (const n of stray) await killNetnsProcesses(`/run/netns/${n}`);
    await removeNetwork(ctx, stray, reg.mountedRunNetns);
    const f = clusterFiles(ctx);
    fs.rmSync(f.hosts, { recursive: true, force: true });
    for (const p of [f.registry, f.knownHosts, f.sshConfig]) fs.rmSync(p, { force: true });
  });
}
