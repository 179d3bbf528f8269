import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * OpenSSH known_hosts, read the way `ssh` reads it, so one file serves this layer, rsync's ssh and
 * an operator's own `ssh -o UserKnownHostsFile=…`.
 */

interface KnownHostLine {
  revoked: boolean;
  matches(name: string): boolean;
  keyType: string;
  keyBase64: string;
}

/** The name a host has in known_hosts: `addr`, or `[addr]:port` when the port is not 22. */
export function knownHostsName(address: string, port = 22): string {
  return port === 22 ? address : `[${address}]:${port}`;
}

/** Key type as written in the key blob itself (`ssh-ed25519`, `ssh-rsa`, `ecdsa-sha2-nistp256`…). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `ssh-ed25519 SHA256:…`, the form `ssh` prints, so operators can compare it with `ssh-keygen -lf`. */
export function fingerprint(blob: Buffer): string {
  const digest = createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
  return `${keyTypeOf(blob)} SHA256:${digest}`;
}

export function parseKnownHosts(text: string): KnownHostLine[] {
  const lines: KnownHostLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields.shift();
      // Host certificates are not used by this tool, so CA lines can never vouch for a key here.
      if (marker === '@cert-authority') continue;
      revoked = marker === '@revoked';
      if (!revoked) continue;
    }
    const [hosts, keyType, keyBase64] = fields;
    if (!hosts || !keyType || !keyBase64) continue;
    lines.push({ revoked, matches: hostMatcher(hosts), keyType, keyBase64 });
  }
  return lines;
}

export type HostKeyCheck =
  | { status: 'known' }
  | { status: 'unknown' }
  | { status: 'mismatch'; knownTypes: string[] }
  | { status: 'revoked' };

/** What known_hosts says about `blob` presented under `name`. */
export function checkHostKey(lines: readonly KnownHostLine[], name: string, blob: Buffer): HostKeyCheck {
  const presented = blob.toString('base64');
  const forHost = lines.filter((l) => l.matches(name));
  if (forHost.some((l) => l.revoked && l.keyBase64 === presented)) return { status: 'revoked' };
  const trusted = forHost.filter((l) => !l.revoked);
  if (trusted.some((l) => l.keyBase64 === presented)) return { status: 'known' };
  if (trusted.length === 0) return { status: 'unknown' };
  return { status: 'mismatch', knownTypes: [...new Set(trusted.map((l) => l.keyType))] };
}

/** Key types known for `name`, so the handshake can ask for those first (as `ssh` does). */
export function knownKeyTypes(lines: readonly KnownHostLine[], name: string): string[] {
  return [...new Set(lines.filter((l) => !l.revoked && l.matches(name)).map((l) => l.keyType))];
}

export function readKnownHosts(file: string): KnownHostLine[] {
  try {
    return parseKnownHosts(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * Appends a plain (unhashed) line. Synchronous on purpose: it runs inside ssh2's host verifier,
 * and re-reading right before the write keeps two handshakes of this worker to the same new host
 * from adding the line twice.
 */
export function appendKnownHost(file: string, name: string, blob: Buffer): void {
  if (checkHostKey(readKnownHosts(file), name, blob).status === 'known') return;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  let prefix = '';
  try {
    const text = fs.readFileSync(file, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) prefix = '\n';
  } catch {
    // a missing file is created by the append below
  }
  fs.appendFileSync(file, `${prefix}${name} ${keyTypeOf(blob)} ${blob.toString('base64')}\n`, {
    mode: 0o600,
  });
}

function hostMatcher(hosts: string): (name: string) => boolean {
  if (hosts.startsWith('|1|')) {
    const [, , salt, hash] = hosts.split('|');
    if (!salt || !hash) return () => false;
    const expected = Buffer.from(hash, 'base64');
    const key = Buffer.from(salt, 'base64');
    return (name) => {
      const actual = createHmac('sha1', key).update(name).digest();
      return actual.length === expected.length && timingSafeEqual(actual, expected);
    };
  }
  const patterns = hosts.split(',').map((p) => ({
    negated: p.startsWith('!'),
    re: globToRegExp(p.startsWith('!') ? p.slice(1) : p),
  }));
  // OpenSSH: a matching negated pattern excludes the host even if another pattern matches.
  return (name) => {
    let matched = false;
    for (const p of patterns) {
      if (!p.re.test(name)) continue;
      if (p.negated) return false;
      matched = true;
    }
    return matched;
  };
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}
