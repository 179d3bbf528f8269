import { isIPv4 } from 'node:net';

/** Address ranges a load run may target: this machine and the simulated cluster. */
const ALLOWED_V4: { base: number; bits: number; name: string }[] = [
  { base: v4('127.0.0.0'), bits: 8, name: '127.0.0.0/8' },
  { base: v4('10.231.0.0'), bits: 16, name: '10.231.0.0/16 (the simulated cluster)' },
];

function v4(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function inRange(address: number, base: number, bits: number): boolean {
  const size = 2 ** (32 - bits);
  return Math.floor(address / size) === Math.floor(base / size);
}

/**
 * The URL of a load run, if its host is loopback or in the simulated cluster's range; anything
 * else is refused, so a benchmark or test can never flood a real service. WHATWG URL parsing
 * has already turned `127.1`, `0x7f.0.0.1` and the like into dotted quads.
 */
export function checkLoadTarget(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`load generator: ${JSON.stringify(raw)} is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new Error(`load generator: ${raw} is not http(s)`);
  const host = url.hostname;
  const allowed =
    host === 'localhost' ||
    host === '[::1]' ||
    (isIPv4(host) && ALLOWED_V4.some((r) => inRange(v4(host), r.base, r.bits)));
  if (!allowed) {
    throw new Error(
      `load generator: refusing ${host}: only loopback (${ALLOWED_V4.map((r) => r.name).join(', ')}, ::1, localhost) may be loaded`,
    );
  }
  return url;
}
