import { patched } from '@temporalio/workflow';
import {
  bareLayout,
  buildRanktables,
  deviceIpsOf,
  RanktableError,
  ranktableInputFromIps,
  type DeviceIps,
  type HccnProbe,
} from '../../plan/ranktable';
import { ownRanktableFiles } from '../../plan/ranktablePlan';
import type { Plan } from '../../plan/types';
import type { DeviceIpOutput, RanktableFileWrite } from '../../activities/types';
import { PhaseFailed, type PhaseContext } from './context';
import { hostRef } from '../common';
import { owner, planHost } from './steps';
import { RANKTABLES_BY_CONTENT } from '../patches';

/** Generated ranktables as kept in workflow state by runs before content addressing. */
export interface RanktableSet {
  contents: Record<string, string>;
  hosts: Record<string, string[]>;
}

/** The content-addressed set: the device IPs it is built from, and its address once built. */
export interface RanktableSource {
  ips: DeviceIps;
  /** sha256 of the coordinator's index of the shared folder, once the coordinator wrote it. */
  hash?: string;
}

/** What a repair puts back: the set as an older run kept it, or as this one addresses it. */
export type KeptRanktables = { set: RanktableSet } | { source: RanktableSource };

const READ = 'ranktable.read';
const WRITE = 'ranktable.write';
const SET_KEY = 'ranktable.set';
const SOURCE_KEY = 'ranktable.source';
const probeKey = (host: string) => `ranktable.hccn.${host}`;

const engineHosts = (plan: Plan) => plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);

/**
 * The `ranktable` phase: read every device's IP with hccn_tool in the containers, validate them
 * in the workflow (pure, before anything is written), then write the ranktables to every host.
 *
 * The workflow keeps only the device IPs (~130 KB for 512 hosts × 16 devices). The files — the
 * seed's `global/` folder is the same ~5 MB on every host at that size — are built by the
 * coordinator's write (the seed's p0, which merges in the seed too) and kept there with an index
 * of their content; every other host's write copies them from there by that content address. A
 * retry or a resumed run writes the same bytes (same IPs, same pure build), checked by the index.
 * Runs recorded before this (no marker in their history) kept the built files in workflow state.
 */
export async function runRanktablePhase(ctx: PhaseContext): Promise<void> {
  const plan = ctx.plan;
  const hosts = engineHosts(plan);
  ctx.state.markSkipped(plan.proxy.host, 'ranktable', 'nginx reads no ranktable');
  await readDeviceIps(ctx, READ, hosts);

  if (ctx.state.stepData<RanktableSet>(SET_KEY) || !patched(RANKTABLES_BY_CONTENT)) {
    return legacyRanktables(ctx, hosts);
  }
  const source = ctx.state.stepData<RanktableSource>(SOURCE_KEY) ?? validatedSource(ctx, hosts, {});
  await distributeFromSource(ctx, WRITE, source, hosts);
}

/**
 * The ranktables of a changed cluster (a rollout that adds or removes an instance): device IPs
 * are read only where none were read before (new hosts), every ranktable is built again from the
 * current Plan, and each engine host gets its files (unchanged ones are left alone).
 */
export async function rebuildRanktables(ctx: PhaseContext, prefix: string): Promise<void> {
  const hosts = engineHosts(ctx.plan);
  const source = ctx.state.stepData<RanktableSource>(SOURCE_KEY);
  const unread = hosts.filter((h) =>
    source ? source.ips[h] === undefined : ctx.state.stepData(probeKey(h)) === undefined,
  );
  await readDeviceIps(ctx, `${prefix}.read`, unread);
  if (!source) {
    // Runs whose ranktable phase kept the built files (before content addressing).
    const set = buildSet(ctx, hosts);
    await distributeSet(ctx, `${prefix}.write`, set, Object.keys(set.hosts));
    return;
  }
  await distributeFromSource(ctx, `${prefix}.write`, validatedSource(ctx, hosts, source.ips), hosts);
}

async function readDeviceIps(ctx: PhaseContext, step: string, hosts: string[]): Promise<void> {
  await ctx.hostSteps(step, 'ranktable', hosts, { kind: 'readDeviceIps' }, (name, outputs) =>
    ctx.state.setStepData(probeKey(name), outputs),
  );
}

/**
 * Validates the device IPs of `hosts` against the Plan's layout — those in `known` as kept, the
 * others as just read — and keeps them as the set's source; nothing is written when they do not
 * fit. The raw outputs need not travel on once validated.
 */
function validatedSource(ctx: PhaseContext, hosts: string[], known: DeviceIps): RanktableSource {
  const layout = ctx.plan.ranktable;
  const hccn = [
    ...ranktableInputFromIps(layout, known).hccn.filter((p) => known[p.host] !== undefined),
    ...probesOf(
      ctx,
      hosts.filter((h) => known[h] === undefined),
    ),
  ];
  let source: RanktableSource;
  try {
    source = { ips: deviceIpsOf({ layout, hccn }) };
  } catch (err) {
    if (!(err instanceof RanktableError)) throw err;
    reportInvalid(ctx, hosts, err);
    throw new PhaseFailed('ranktable');
  }
  ctx.state.setStepData(SOURCE_KEY, source);
  for (const h of hosts) ctx.state.setStepData(probeKey(h), undefined);
  return source;
}

/** The ranktables the last ranktable phase made, if it ran (a repair puts them back). */
export function keptRanktables(ctx: PhaseContext): KeptRanktables | undefined {
  const set = ctx.state.stepData<RanktableSet>(SET_KEY);
  if (set) return { set };
  const source = ctx.state.stepData<RanktableSource>(SOURCE_KEY);
  return source ? { source } : undefined;
}

/**
 * Write each host's ranktables (unchanged files are left alone, so this is cheap when in place).
 * For a content-addressed set the coordinator writes (and so checks) its set first, whether or not
 * it is among `hosts`: the others copy from it.
 */
export async function distributeRanktables(
  ctx: PhaseContext,
  step: string,
  kept: KeptRanktables,
  hosts: readonly string[],
): Promise<void> {
  if ('set' in kept) return distributeSet(ctx, step, kept.set, hosts);
  const source: RanktableSource = { ips: kept.source.ips };
  await distributeFromSource(ctx, step, source, hosts);
  ctx.state.setStepData(SOURCE_KEY, source);
}

async function distributeFromSource(
  ctx: PhaseContext,
  step: string,
  source: RanktableSource,
  hosts: readonly string[],
): Promise<void> {
  const plan = ctx.plan;
  const coordinator = plan.ranktable.coordinator;
  if (!source.hash || !ctx.state.isDone(step, coordinator)) {
    await ctx.fanOut(
      step,
      'ranktable',
      [coordinator],
      async (name) => {
        const host = planHost(plan, name);
        const r = await ctx.activities(name, 'ranktable').writeRanktables({
          target: hostRef(plan, host),
          owner: owner(plan, host),
          root: plan.settings.ranktable_save_path,
          build: { layout: bareLayout(plan.ranktable), deviceIps: source.ips },
          own: ownRanktableFiles(plan.ranktable, name),
        });
        source.hash = r.hash;
        return r;
      },
      (r) =>
        `${r.written} written, ${r.unchanged} unchanged; set ${r.hash?.slice(0, 12)}: ` +
        `${r.shared?.files} files, ${Math.round((r.shared?.bytes ?? 0) / 1024)} KiB`,
    );
  }
  const others = hosts.filter((h) => h !== coordinator);
  try {
    await ctx.hostSteps(step, 'ranktable', others, { kind: 'copyRanktables', hash: source.hash! });
  } catch (err) {
    // The coordinator's set changed under the copies (a later deploy, a lost disk): it is built
    // and written again on retry, and the copies follow the new address.
    if (err instanceof PhaseFailed && others.some((h) => sourceChanged(ctx, h))) {
      ctx.state.forgetStep(step, coordinator);
      delete source.hash;
    }
    throw err;
  }
}

function sourceChanged(ctx: PhaseContext, host: string): boolean {
  return ctx.state.cell(host, 'ranktable')?.error?.type === 'RanktableSourceChanged';
}

function probesOf(ctx: PhaseContext, hosts: readonly string[]): HccnProbe[] {
  return hosts.flatMap((name) =>
    (ctx.state.stepData<DeviceIpOutput[]>(probeKey(name)) ?? []).map((o) => ({ host: name, ...o })),
  );
}

/** Runs recorded before content addressing: the built files kept in workflow state. */
async function legacyRanktables(ctx: PhaseContext, hosts: string[]): Promise<void> {
  const set = ctx.state.stepData<RanktableSet>(SET_KEY) ?? buildSet(ctx, hosts);
  await distributeSet(ctx, WRITE, set, Object.keys(set.hosts));
}

/** Build, validate and keep the ranktable set; nothing is written when the device IPs do not fit. */
function buildSet(ctx: PhaseContext, hosts: string[]): RanktableSet {
  let set: RanktableSet;
  try {
    set = dedupe(buildRanktables({ layout: ctx.plan.ranktable, hccn: probesOf(ctx, hosts) }).files);
  } catch (err) {
    if (!(err instanceof RanktableError)) throw err;
    reportInvalid(ctx, hosts, err);
    throw new PhaseFailed('ranktable');
  }
  ctx.state.setStepData(SET_KEY, set);
  return set;
}

async function distributeSet(
  ctx: PhaseContext,
  step: string,
  set: RanktableSet,
  hosts: readonly string[],
): Promise<void> {
  const plan = ctx.plan;
  await ctx.fanOut(
    step,
    'ranktable',
    hosts.filter((h) => set.hosts[h] !== undefined),
    (name) =>
      ctx.activities(name, 'ranktable').writeRanktables({
        target: hostRef(plan, planHost(plan, name)),
        owner: owner(plan, planHost(plan, name)),
        root: plan.settings.ranktable_save_path,
        files: set.hosts[name]!.map((path): RanktableFileWrite => ({
          path,
          content: set.contents[path]!,
        })),
      }),
    (r) => `${r.written} written, ${r.unchanged} unchanged`,
  );
}

/** The same global files go to every host: store them once (history and payload size). */
function dedupe(files: { host: string; path: string; content: string }[]): RanktableSet {
  const set: RanktableSet = { contents: {}, hosts: {} };
  for (const f of files) {
    set.contents[f.path] = f.content;
    (set.hosts[f.host] ??= []).push(f.path);
  }
  return set;
}

/**
 * Nothing is written when the device IPs do not make a valid cluster. The hosts a problem names
 * are marked failed and will read their devices again on retry (the operator fixes hccn.conf or
 * the inventory first); if no host is named, all of them re-read.
 */
function reportInvalid(ctx: PhaseContext, hosts: string[], err: RanktableError): void {
  const named = hosts.filter((h) => err.problems.some((p) => new RegExp(`\\b${h}\\b`).test(p)));
  const blamed = named.length > 0 ? named : hosts;
  for (const h of blamed) {
    const own = err.problems.filter((p) => named.length === 0 || new RegExp(`\\b${h}\\b`).test(p));
    ctx.state.forgetStep(READ, h);
    ctx.state.setStepData(probeKey(h), undefined);
    ctx.state.markFailed(h, 'ranktable', Date.now(), {
      type: 'RanktableError',
      message: own.join('; '),
      nonRetryable: true,
    });
  }
}
