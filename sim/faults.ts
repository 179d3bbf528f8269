/**
 * What tests do to a running simulated cluster to see how the tool copes: power a host off or
 * reboot it, pull its cable, rewrite its NPU device table, change its engines' behaviour through
 * the knob file. Each acts on one host by name or address and leaves the rest alone.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { knobFile } from './disks';
import { simContext } from './hosts';
import { simUp, stopHost, type SimCluster } from './lifecycle';
import { setCable } from './network';
import { hostExec } from './processes';
import { findHost, hostFiles, readRegistry, withLock } from './state';

/** Power off: every process of the host dies and its address disappears; the disk stays. */
export async function powerOffHost(nameOrAddress: string, ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
    await stopHost(ctx, h);
    fs.writeFileSync(hostFiles(ctx, h.name).off, '');
  });
}

/** Reboot = power off + power on with the same disk (also powers on a host that is off). */
export async function rebootHost(nameOrAddress: string, ctx = simContext()): Promise<SimCluster> {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  await withLock(ctx, () => stopHost(ctx, h));
  return simUp([h], { ctx });
}

/** Cable pulled / plugged back: the host keeps running, its traffic stops or resumes. */
export async function setLink(nameOrAddress: string, up: boolean, ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    await setCable(ctx, findHost(ctx, readRegistry(ctx), nameOrAddress), up);
  });
}

/** Replaces a host's NPU device table (/etc/hccn.conf, what hccn_tool and npu-smi answer from). */
export async function setDeviceTable(
  nameOrAddress: string,
  table: string,
  ctx = simContext(),
): Promise<void> {
  await hostExec(nameOrAddress, ['/bin/sh', '-c', 'cat > /etc/hccn.conf'], table, ctx);
}

/** Writes a host's engine knob file (/data/omni-sim/engine.env; see sim/README.md). */
export function setEngineKnobs(
  nameOrAddress: string,
  knobs: Record<string, string | number>,
  ctx = simContext(),
): void {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  const file = knobFile(ctx, h.name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = Object.entries(knobs)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
  fs.writeFileSync(file, text);
}
