/**
 * Benchmark (not a test): bring up 8, 32 and 128 simulated hosts and print the time and memory
 * per host. Runs as its own sim instance (default 9, 10.231.9.0/24) so it never touches the
 * operator's cluster; tears everything down at the end, also on failure.
 *   npm run bench:sim                 (BENCH_SIM_SIZES=8,32 to pick sizes)
 */
import * as fs from 'node:fs';
import { spawn } from 'node:child_process';
import { hostsForCount, simContext, simDown, simStatus, simUp, ensureImages, sshOptions } from '../sim';

const ctx = simContext(Number(process.env.BENCH_SIM_INSTANCE ?? 9));
const sizes = (process.env.BENCH_SIM_SIZES ?? '8,32,128').split(',').map(Number);

function meminfo(): Record<string, number> {
  return Object.fromEntries(
    fs
      .readFileSync('/proc/meminfo', 'utf8')
      .trim()
      .split('\n')
      .map((l) => {
        const [k, v] = l.split(/:\s+/);
        return [k, parseInt(v ?? '0', 10)];
      }),
  ) as Record<string, number>;
}

/** Machine-wide memory in use, and the kernel's share that grows with hosts (netns, tmpfs, stacks). */
function memKiB(): { used: number; kernel: number } {
  const m = meminfo();
  const kernel = ['Slab', 'KernelStack', 'PageTables', 'Shmem'].reduce((a, k) => a + (m[k] ?? 0), 0);
  return { used: (m.MemTotal ?? 0) - (m.MemAvailable ?? 0), kernel };
}

/** Proportional set size of every process inside the cluster's hosts (shared pages split fairly). */
function hostPssKiB(netnsInodes: Set<number>): { pss: number; processes: number } {
  let pss = 0;
  let processes = 0;
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      if (!netnsInodes.has(fs.statSync(`/proc/${p}/ns/net`).ino)) continue;
      const m = /^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'));
      pss += Number(m?.[1] ?? 0);
      processes++;
    } catch {
      /* exited */
    }
  }
  return { pss, processes };
}

function sshRun(address: string, command = 'true'): Promise<number> {
  return new Promise((resolve) => {
    const c = spawn('ssh', [...sshOptions(ctx), address, command], { stdio: 'ignore' });
    c.on('exit', (code) => resolve(code ?? -1));
  });
}

async function main(): Promise<void> {
  const t = Date.now();
  await ensureImages(ctx);
  console.log(`images (cached or built): ${Date.now() - t} ms`);
  console.log(
    'hosts | up (s) | ms/host | process PSS/host (MiB) | kernel Δ/host (MiB) | used Δ/host (MiB, noisy) | procs/host | ssh to all (s) | down (s)',
  );
  for (const n of sizes) {
    await simDown(ctx);
    await new Promise((r) => setTimeout(r, 1000));
    const before = memKiB();
    const t0 = Date.now();
    const cluster = await simUp(hostsForCount(n, ctx), { ctx });
    const upMs = Date.now() - t0;
    await new Promise((r) => setTimeout(r, 1500));
    const after = memKiB();
    const inodes = new Set(cluster.hosts.map((h) => fs.statSync(`/run/netns/${h.netns}`).ino));
    const { pss, processes } = hostPssKiB(inodes);
    const t1 = Date.now();
    const codes = await Promise.all(cluster.hosts.map((h) => sshRun(h.address)));
    const sshMs = Date.now() - t1;
    if (codes.some((c) => c !== 0)) throw new Error(`ssh failed on some hosts: ${codes.join(',')}`);
    const running = (await simStatus(ctx)).hosts.filter((h) => h.state === 'running').length;
    if (running !== n) throw new Error(`${running} of ${n} hosts running`);
    const rows: string[] = [];
    if (n === sizes[0]) {
      // What a running container costs a host: podman leaves conmon behind, no daemon.
      const started = await Promise.all(
        cluster.hosts.map((h) =>
          sshRun(
            h.address,
            `docker run -d --init --name idle --net=host ${cluster.images.engine} sleep infinity >/dev/null`,
          ),
        ),
      );
      if (started.some((c) => c !== 0)) throw new Error('docker run failed on some hosts');
      await new Promise((r) => setTimeout(r, 1000));
      const withContainer = hostPssKiB(inodes);
      rows.push(
        `  with one idle container per host: process PSS/host ${(withContainer.pss / 1024 / n).toFixed(2)} MiB, ` +
          `${(withContainer.processes / n).toFixed(1)} processes/host`,
      );
    }
    const t2 = Date.now();
    await simDown(ctx);
    const downMs = Date.now() - t2;
    const perHost = (kib: number) => (kib / 1024 / n).toFixed(2);
    console.log(
      [
        n,
        (upMs / 1000).toFixed(2),
        (upMs / n).toFixed(0),
        perHost(pss),
        perHost(after.kernel - before.kernel),
        perHost(after.used - before.used),
        (processes / n).toFixed(1),
        (sshMs / 1000).toFixed(2),
        (downMs / 1000).toFixed(2),
      ].join(' | '),
    );
    for (const r of rows) console.log(r);
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => simDown(ctx));
