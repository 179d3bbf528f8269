/**
 * Which simulated cluster and which hosts: the instance (subnet, name prefix, state folder), the
 * host specs a `sim up` is given, and the names derived from them. Pure apart from reading an
 * inventory file, so every other sim module agrees on what a host is called and where it sits.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { stateDir } from '../src/shared/paths';

/**
 * One simulated cluster. Instance 0 is the operator's (10.231.0.0/24, names `omd-…`, state in
 * `.state/sim`); other instances let tests and benchmarks run beside it without touching it.
 */
export interface SimContext {
  instance: number;
  /** Shared by all instances: the engine binary and the read-only image store. */
  root: string;
  dir: string;
  prefix: string;
  bridge: string;
  /** First three octets, e.g. "10.231.0". */
  subnet: string;
}

export function simContext(instance = Number(process.env.OMNI_SIM_INSTANCE ?? 0)): SimContext {
  if (!Number.isInteger(instance) || instance < 0 || instance > 254) {
    throw new Error(`sim instance must be an integer 0..254 (OMNI_SIM_INSTANCE), got ${instance}`);
  }
  const root = path.join(stateDir(), 'sim');
  const prefix = instance === 0 ? 'omd-' : `omd${instance}-`;
  return {
    instance,
    root,
    dir: instance === 0 ? root : path.join(root, `instance-${instance}`),
    prefix,
    bridge: `${prefix}br`,
    subnet: `10.231.${instance}`,
  };
}

export interface SimHostSpec {
  name: string;
  address: string;
}

export type HostState = 'running' | 'off' | 'dead';

export interface SimHostStatus extends SimHostSpec {
  netns: string;
  veth: string;
  state: HostState;
  link: 'up' | 'down' | 'absent';
  /** PID of the host's sshd (its PID 1) in the machine's PID namespace. */
  pid: number | null;
}

export function hostsForCount(n: number, ctx = simContext()): SimHostSpec[] {
  if (!Number.isInteger(n) || n < 1 || n > 240) throw new Error(`--hosts must be 1..240, got ${n}`);
  return Array.from({ length: n }, (_, i) => ({
    name: `h${i + 1}`,
    address: `${ctx.subnet}.${11 + i}`,
  }));
}

/**
 * The hosts of an inventory: one per distinct `ansible_host` (p0 and c0 share a machine), named
 * after the first inventory host at that address. Reads only `ansible_host`, so it works on
 * inventories the full loader would still reject.
 */
export function hostsFromInventory(file: string): SimHostSpec[] {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as unknown;
  const byAddress = new Map<string, string>();
  const visit = (group: unknown): void => {
    if (!group || typeof group !== 'object') return;
    const g = group as { hosts?: Record<string, unknown>; children?: Record<string, unknown> };
    for (const [name, vars] of Object.entries(g.hosts ?? {})) {
      const address = (vars as { ansible_host?: unknown } | null)?.ansible_host;
      if (typeof address !== 'string' || address === '') {
        throw new Error(`${file}: host ${name} has no ansible_host`);
      }
      if (!byAddress.has(address)) byAddress.set(address, name);
    }
    for (const child of Object.values(g.children ?? {})) visit(child);
  };
  visit((doc as { all?: unknown } | null)?.all);
  if (byAddress.size === 0) throw new Error(`${file}: no hosts with ansible_host found`);
  return [...byAddress].map(([address, name]) => ({ name, address }));
}

export function validateSpecs(ctx: SimContext, specs: SimHostSpec[], known: SimHostSpec[]): void {
  const seen = new Map<string, string>();
  for (const h of [...known, ...specs]) {
    if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(h.name)) {
      throw new Error(`host name "${h.name}" must be 1-20 of a-z, 0-9, "-"`);
    }
    const octet = octetOf(ctx, h.address);
    if (octet === null || octet < 2 || octet > 254) {
      throw new Error(
        `host ${h.name}: address ${h.address} is not in ${ctx.subnet}.2-254 (the simulated network)`,
      );
    }
    const other = seen.get(h.name);
    if (other !== undefined && other !== h.address) {
      throw new Error(`host ${h.name} is already up at ${other}, not ${h.address}; run sim down first`);
    }
    seen.set(h.name, h.address);
  }
  const addrs = new Map<string, string>();
  for (const [name, address] of seen) {
    const prev = addrs.get(address);
    if (prev !== undefined && prev !== name) {
      throw new Error(`hosts ${prev} and ${name} both want ${address}`);
    }
    addrs.set(address, name);
  }
}

export function octetOf(ctx: SimContext, address: string): number | null {
  const m = new RegExp(`^${ctx.subnet.replace(/\./g, '\\.')}\\.(\\d{1,3})$`).exec(address);
  return m ? Number(m[1]) : null;
}

export const netnsOf = (ctx: SimContext, h: SimHostSpec): string => `${ctx.prefix}${h.name}`;
export const vethOf = (ctx: SimContext, h: SimHostSpec): string => `${ctx.prefix}v${octetOf(ctx, h.address)}`;
