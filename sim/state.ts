/**
 * What the simulated cluster remembers on the machine's disk, under the instance's state folder:
 * the registry of its hosts, the tool's ssh files, each host's folder (disk, pid files, log, the
 * "off" mark), and the lock that serialises sim commands. `sim down` removes exactly what is named
 * here, so every path is named here once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isRunning, pidRecordOf, readPidFile } from '../src/shared/pidFile';
import type { SimEngine } from './containerEngine';
import { simContext, type SimContext, type SimHostSpec } from './hosts';

export interface Registry {
  hosts: SimHostSpec[];
  /** Whether we mounted /run/netns (ip netns add does on first use), so down can undo it. */
  mountedRunNetns: boolean;
  /** The hosts' container engine, fixed at the first `sim up` (absent: podman, as before it was chosen). */
  engine?: SimEngine;
}

export function clusterFiles(ctx = simContext()) {
  return {
    registry: path.join(ctx.dir, 'cluster.json'),
    key: path.join(ctx.dir, 'client_key'),
    knownHosts: path.join(ctx.dir, 'known_hosts'),
    sshConfig: path.join(ctx.dir, 'ssh_config'),
    lock: path.join(ctx.dir, 'lock'),
    hosts: path.join(ctx.dir, 'hosts'),
  };
}

/** One host's folder on the machine. */
export function hostFiles(ctx: SimContext, name: string) {
  const dir = path.join(clusterFiles(ctx).hosts, name);
  return {
    dir,
    /** What the host mounts as its filesystems (sim/host-init.sh); kept across reboots. */
    disk: path.join(dir, 'disk'),
    /** The host's PID 1 (bash running host-init.sh, then sshd) and the unshare that waits for it. */
    initPid: path.join(dir, 'init.pid'),
    unsharePid: path.join(dir, 'unshare.pid'),
    initLog: path.join(dir, 'init.log'),
    /** Present while the host is powered off (as opposed to dead by accident). */
    off: path.join(dir, 'off'),
  };
}

export function readRegistry(ctx: SimContext): Registry {
  try {
    return JSON.parse(fs.readFileSync(clusterFiles(ctx).registry, 'utf8')) as Registry;
  } catch {
    return { hosts: [], mountedRunNetns: false };
  }
}

export function writeRegistry(ctx: SimContext, reg: Registry): void {
  const file = clusterFiles(ctx).registry;
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(reg, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

export function findHost(ctx: SimContext, reg: Registry, nameOrAddress: string): SimHostSpec {
  const h = reg.hosts.find((x) => x.name === nameOrAddress || x.address === nameOrAddress);
  if (!h) {
    const known = reg.hosts.map((x) => `${x.name} (${x.address})`).join(', ') || 'none';
    throw new Error(`no simulated host "${nameOrAddress}" in instance ${ctx.instance}; hosts: ${known}`);
  }
  return h;
}

/** Serialises sim commands on one instance (two `sim up` at once would race on the bridge). */
export async function withLock<T>(ctx: SimContext, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(ctx.dir, { recursive: true });
  const lock = clusterFiles(ctx).lock;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, JSON.stringify(pidRecordOf(process.pid)), { flag: 'wx' });
      break;
    } catch {
      const holder = readPidFile(lock);
      if (!isRunning(holder)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (i > 1200) throw new Error(`sim state is locked by pid ${holder.pid} (${lock})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}
