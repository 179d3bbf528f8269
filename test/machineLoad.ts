import * as fs from 'node:fs';
import * as os from 'node:os';

/**
 * How busy the whole machine's CPUs are, from /proc/stat sampled once a second: every process
 * counts, the simulated hosts' containers included (which a file's own cgroup does not see). The
 * test runner starts another e2e file only while the machine has a core's worth of room, and
 * reports how busy the machine was over each stage.
 */
export interface MachineLoad {
  /** Busy cores (0 … cores) averaged over the last `windowMs`, or since sampling started. */
  busyCores(windowMs: number): number;
  /** Busy CPU ms and wall ms since `mark()` returned `since`. */
  since(mark: Sample): { busyMs: number; wallMs: number };
  mark(): Sample;
  stop(): void;
  readonly cores: number;
}

export interface Sample {
  at: number;
  /** Jiffies (USER_HZ, 100 a second) summed over all CPUs. */
  busy: number;
  total: number;
}

function read(): Sample {
  const first = fs.readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [, ...fields] = first.trim().split(/\s+/);
  const n = fields.map(Number);
  const total = n.slice(0, 8).reduce((a, b) => a + b, 0);
  // idle and iowait are the time no task ran.
  const busy = total - (n[3] ?? 0) - (n[4] ?? 0);
  return { at: Date.now(), busy, total };
}

export function busyBetween(a: Sample, b: Sample, cores: number): number {
  const total = b.total - a.total;
  return total > 0 ? ((b.busy - a.busy) / total) * cores : 0;
}

export function machineLoad(): MachineLoad | undefined {
  if (!fs.existsSync('/proc/stat')) return undefined;
  const cores = os.cpus().length;
  const samples: Sample[] = [read()];
  const timer = setInterval(() => {
    samples.push(read());
    // Two minutes of history is more than any window asked for.
    if (samples.length > 120) samples.shift();
  }, 1000);
  timer.unref();
  return {
    cores,
    busyCores(windowMs) {
      const now = read();
      const from = samples.find((s) => now.at - s.at <= windowMs) ?? samples[0]!;
      return busyBetween(from, now, cores);
    },
    mark: read,
    since(mark) {
      const now = read();
      return { busyMs: ((now.busy - mark.busy) / 100) * 1000, wallMs: now.at - mark.at };
    },
    stop: () => clearInterval(timer),
  };
}
