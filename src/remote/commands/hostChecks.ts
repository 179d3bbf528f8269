import { absolutePath, outputLines } from './argv';

/** What preflight asks a host about itself before anything changes there. */

/**
 * Exit 0 when `address` is one of the host's IPv4 addresses (the ranktable names hosts by the
 * address the inventory gives, so a host answering under another one would be misnamed).
 * Compared whole and literally: `10.0.0.1` matches neither `10.0.0.10` nor `10.0.0`.
 */
export function ownsAddress(address: string): string[] {
  return [
    'sh',
    '-c',
    // `ip -o` prints one address per line: `2: eth0    inet 10.0.0.1/24 brd …`.
    'ip -o -4 addr show | a=$1 awk \'{ split($4, f, "/") } f[1] == ENVIRON["a"] { found = 1 } END { exit !found }\'',
    'owns-address',
    address,
  ];
}

/**
 * Prints `<free KiB> <folder measured>`: the free space where `folder` is or will be — the folder
 * itself, or its nearest existing parent when it is not created yet.
 */
export function freeSpace(folder: string): string[] {
  return ['sh', '-c', FREE_SPACE, 'free-space', absolutePath(folder, 'the folder to measure')];
}

const FREE_SPACE = `p=$1
while [ ! -e "$p" ]; do p=\${p%/*}; [ -n "$p" ] || p=/; done
kb=$(df -Pk -- "$p" | awk 'NR==2 {print $4}') || exit 1
echo "$kb $p"`;

export interface FreeSpace {
  freeBytes: number;
  /** The folder measured: the one asked about, or its nearest existing parent. */
  measured: string;
}

/** undefined when the answer is not `<KiB> <folder>` (df failed, or printed something else). */
export function parseFreeSpace(result: { code: number | null; stdout: string }): FreeSpace | undefined {
  if (result.code !== 0) return undefined;
  const m = /^(\d+) (\/.*)$/.exec(result.stdout.replace(/\n$/, ''));
  return m ? { freeBytes: Number(m[1]) * 1024, measured: m[2]! } : undefined;
}

/** Listening TCP sockets, without the header line. */
export function listeningTcp(): string[] {
  return ['ss', '-Htln'];
}

/** The local ports of `ss -Htln` lines (`0.0.0.0:8000`, `[::]:8000`, `*:8000`, `127.0.0.53%lo:53`). */
export function parseListeningPorts(stdout: string): Set<number> {
  const ports = new Set<number>();
  for (const line of outputLines(stdout)) {
    const local = line.trim().split(/\s+/)[3] ?? '';
    const port = Number(local.slice(local.lastIndexOf(':') + 1));
    if (Number.isInteger(port) && port > 0) ports.add(port);
  }
  return ports;
}
