import { renderProxyConfig } from './nginxConf';
import type { ProxyConfigSpec } from './types';

const FNV_OFFSET = 0xcbf29ce484222325n;
const FNV_PRIME = 0x100000001b3n;
const MASK = (1n << 64n) - 1n;

/** FNV-1a, 64 bits, over UTF-16 code units: a change detector, not a security hash. */
function fnv1a64(text: string): string {
  let h = FNV_OFFSET;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * FNV_PRIME) & MASK;
  }
  return h.toString(16).padStart(16, '0');
}

/**
 * Identifies what the proxy host runs: equal hashes mean equal nginx.conf and njs, so a reload
 * is due exactly when the hash changes (e.g. after a restart moved the endpoints).
 */
export function proxyConfigHash(spec: ProxyConfigSpec): string {
  const { nginxConf, njs } = renderProxyConfig(spec);
  return fnv1a64(`${nginxConf}\0${njs}`);
}
