import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * CPU time of one test file's process tree, from a cgroup of its own (cgroup v1 `cpuacct`, or v2
 * `cpu.stat`). Every process the file starts inherits the cgroup — its simulated hosts' sshd,
 * the scripts and podman commands they run, its Temporal server, the CLI — so the figure holds
 * whatever the other lanes do at the same time. Containers are not in it: podman moves them (and
 * their conmon) to its own cgroups. Where no cgroup can be made (not root, a read-only cgroupfs)
 * the runner records no CPU and says so once.
 */
export interface CpuAccount {
  /** Moves a process into the cgroup; its later children follow. */
  attach(pid: number): void;
  /** User and system CPU in ms since the cgroup was made, then the cgroup is removed. */
  close(): { userMs: number; sysMs: number } | undefined;
}

const V1 = '/sys/fs/cgroup/cpuacct';
const PARENT = 'omni-test';
const V2 = '/sys/fs/cgroup';

function root(): { dir: string; v: 1 | 2 } | undefined {
  if (fs.existsSync(path.join(V1, 'cpuacct.stat'))) return { dir: V1, v: 1 };
  if (fs.existsSync(path.join(V2, 'cgroup.controllers'))) return { dir: V2, v: 2 };
  return undefined;
}

/** v1 `cpuacct.stat` counts in USER_HZ ticks (100 per second on Linux); v2 `cpu.stat` in µs. */
function readUsage(dir: string, v: 1 | 2): { userMs: number; sysMs: number } {
  const text = fs.readFileSync(path.join(dir, v === 1 ? 'cpuacct.stat' : 'cpu.stat'), 'utf8');
  const field = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
  return v === 1
    ? { userMs: field('user') * 10, sysMs: field('system') * 10 }
    : { userMs: field('user_usec') / 1000, sysMs: field('system_usec') / 1000 };
}

export function cpuAccount(name: string): CpuAccount | undefined {
  const r = root();
  if (!r) return undefined;
  const dir = path.join(r.dir, PARENT, `${process.pid}-${name.replace(/[^\w.-]/g, '_')}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch {
    return undefined;
  }
  return {
    attach(pid) {
      try {
        fs.writeFileSync(path.join(dir, 'cgroup.procs'), String(pid));
      } catch {
        // The process ended already: it ran nothing worth counting.
      }
    },
    close() {
      let usage: { userMs: number; sysMs: number } | undefined;
      try {
        usage = readUsage(dir, r.v);
        fs.rmdirSync(dir);
      } catch {
        // A process the file left behind keeps the cgroup (and shows in `ps`); the figure stands.
      }
      return usage;
    },
  };
}

/** Removes the runner's parent cgroup when no file's is left in it (another runner's keep it). */
export function removeCpuAccounts(): void {
  const r = root();
  if (!r) return;
  try {
    fs.rmdirSync(path.join(r.dir, PARENT));
  } catch {
    // Not there, or another runner's files are in it.
  }
}
