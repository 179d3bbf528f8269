import { buildRanktables, RanktableError, type HccnProbe } from '../../plan/ranktable';
import type { Plan } from '../../plan/types';
import type { DeviceIpOutput, RanktableFileWrite } from '../../activities/types';
import { PhaseFailed, type PhaseContext } from './context';
import { hostRef } from '../common';
import { owner, planHost } from './steps';

/** Generated ranktables as kept in workflow state: each path's bytes once, and who gets what. */
export interface RanktableSet {
  contents: Record<string, string>;
  hosts: Record<string, string[]>;
}

const READ = 'ranktable.read';
const WRITE = 'ranktable.write';
const SET_KEY = 'ranktable.set';
const probeKey = (host: string) => `ranktable.hccn.${host}`;

const engineHosts = (plan: Plan) => plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);

/**
 * The `ranktable` phase: read every device's IP with hccn_tool in the containers, build all
 * ranktables in the workflow (pure, validated before anything is written), then write them to
 * every host. The built set is kept in workflow state, so a retry or a resumed run distributes
 * the very same bytes instead of regenerating.
 */
export async function runRanktablePhase(ctx: PhaseContext): Promise<void> {
  const plan = ctx.plan;
  const hosts = engineHosts(plan);
  ctx.state.markSkipped(plan.proxy.host, 'ranktable', 'nginx reads no ranktable');
  await readDeviceIps(ctx, READ, hosts);
  const set = ctx.state.stepData<RanktableSet>(SET_KEY) ?? buildSet(ctx, hosts);
  await distributeRanktables(ctx, WRITE, set, Object.keys(set.hosts));
}

/**
 * The ranktables of a changed cluster (a rollout that adds or removes an instance): device IPs
 * are read only where none were read before (new hosts), every ranktable is built again from the
 * current Plan, and each engine host gets its files (unchanged ones are left alone).
 */
export async function rebuildRanktables(ctx: PhaseContext, prefix: string): Promise<void> {
  const hosts = engineHosts(ctx.plan);
  const unread = hosts.filter((h) => ctx.state.stepData(probeKey(h)) === undefined);
  await readDeviceIps(ctx, `${prefix}.read`, unread);
  const set = buildSet(ctx, hosts);
  await distributeRanktables(ctx, `${prefix}.write`, set, Object.keys(set.hosts));
}

async function readDeviceIps(ctx: PhaseContext, step: string, hosts: string[]): Promise<void> {
  const plan = ctx.plan;
  await ctx.fanOut(step, 'ranktable', hosts, async (name) => {
    const host = planHost(plan, name);
    const outputs = await ctx.activities(name, 'ranktable').readDeviceIps({
      target: hostRef(plan, host),
      cli: host.container.cli,
      container: host.container.name,
      devices: host.devices,
    });
    ctx.state.setStepData(probeKey(name), outputs);
  });
}

/** Build, validate and keep the ranktable set; nothing is written when the device IPs do not fit. */
function buildSet(ctx: PhaseContext, hosts: string[]): RanktableSet {
  const hccn: HccnProbe[] = hosts.flatMap((name) =>
    (ctx.state.stepData<DeviceIpOutput[]>(probeKey(name)) ?? []).map((o) => ({ host: name, ...o })),
  );
  let set: RanktableSet;
  try {
    set = dedupe(buildRanktables({ layout: ctx.plan.ranktable, hccn }).files);
  } catch (err) {
    if (!(err instanceof RanktableError)) throw err;
    reportInvalid(ctx, hosts, err);
    throw new PhaseFailed('ranktable');
  }
  ctx.state.setStepData(SET_KEY, set);
  return set;
}

/** The ranktables the last ranktable phase built, if it ran (a repair puts them back). */
export function keptRanktables(ctx: PhaseContext): RanktableSet | undefined {
  return ctx.state.stepData<RanktableSet>(SET_KEY);
}

/** Write each host's ranktables (unchanged files are left alone, so this is cheap when in place). */
export async function distributeRanktables(
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
