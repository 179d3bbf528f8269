import type { Activities } from '../../activities';
import type { ActivityOptions } from '@temporalio/workflow';
import { parseHccnIpOutput } from '../../plan/ranktable';
import { ownRanktableFiles } from '../../plan/ranktablePlan';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import type { HostError } from '../common';
import { hostRef } from '../common';
import { engineLaunchInput, engineReadyInput } from './serverSteps';
import type { FanOutArtefact } from './copyFanOut';
import {
  cleanupInput,
  containerInput,
  loadImagesInput,
  owner,
  planHost,
  preflightInput,
  syncCodeInput,
} from './steps';

/**
 * A step that runs on many hosts, as data: which activity, with which inputs (built from the Plan
 * by the pure functions of steps.ts / serverSteps.ts). Being data, it runs either in the cluster
 * workflow itself or — for hundreds of hosts — in child workflows (hostStepsWorkflow), which
 * rebuild each host's input from the same Plan, so the cluster's history records one child per
 * chunk of hosts instead of every host's activity.
 */
export type HostStepSpec =
  | { kind: 'preflight' }
  | { kind: 'container' }
  | { kind: 'syncCode' }
  /**
   * A copy by a fan-out schedule (copyFanOut.ts): not one activity per host but copies from the
   * executor and from hosts that have it; `holders` have it already. `fanOut` 0: all direct.
   */
  | { kind: 'copyFanOut'; artefact: FanOutArtefact; fanOut: number; holders: string[] }
  /** `docker load` of the image archive where an image is missing. */
  | { kind: 'loadImages' }
  | { kind: 'readDeviceIps' }
  /** The shared ranktable folder copied from the coordinator by content address. */
  | { kind: 'copyRanktables'; hash: string }
  /** `force` restarts running servers; `forceHosts` only those hosts'. */
  | { kind: 'launch'; force: boolean; forceHosts?: string[] }
  | { kind: 'ready' }
  | { kind: 'cleanup' };

/** Where a step's activities come from: the cluster workflow's PhaseContext, or a child's. */
export interface StepActivities {
  activities(host: string, phase: Phase, overrides?: Partial<ActivityOptions>): Activities;
  executorActivities(host: string, phase: Phase): Activities;
  readonly executorTaskQueue: string;
}

export interface HostStepResult {
  /** The table cell's note. */
  note?: string;
  /** What the workflow keeps of the result (the hccn_tool outputs of readDeviceIps). */
  kept?: unknown;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function ipOf(output: string): string | undefined {
  try {
    return parseHccnIpOutput(output, { host: '', device: 0 }).ip;
  } catch {
    return undefined;
  }
}

/** What a step's runner gets: where activities come from, the Plan, the phase it runs in. */
interface StepCall {
  acts: StepActivities;
  plan: Plan;
  phase: Phase;
}

type StepOf<K extends HostStepSpec['kind']> = Extract<HostStepSpec, { kind: K }>;

/** Each step kind's activity call for one host, and what of its result the table shows. */
const STEP_RUNNERS: {
  [K in HostStepSpec['kind']]: (c: StepCall, spec: StepOf<K>, host: string) => Promise<HostStepResult>;
} = {
  preflight: async ({ acts, plan, phase }, _spec, host) => {
    await acts.activities(host, phase).preflight(preflightInput(plan, host));
    return {};
  },
  container: async ({ acts, plan, phase }, _spec, host) => {
    const r = await acts.activities(host, phase).ensureContainer(containerInput(plan, host));
    return { note: `${r.action} ${r.id.slice(0, 12)}` };
  },
  syncCode: async ({ acts, plan, phase }, _spec, host) => ({
    note: copyNote(await acts.executorActivities(host, phase).syncCode(syncCodeInput(plan, host))),
  }),
  copyFanOut: () => {
    throw new Error('a fan-out runs over all its hosts at once (copyFanOut), not per host');
  },
  loadImages: async ({ acts, plan, phase }, _spec, host) => {
    const r = await acts.activities(host, phase).loadImages(loadImagesInput(plan, host));
    return { note: r.loaded ? 'images loaded from the archive' : 'images present' };
  },
  readDeviceIps,
  copyRanktables,
  launch: async ({ acts, plan, phase }, spec, host) => {
    const force = spec.force || (spec.forceHosts ?? []).includes(host);
    const r = await acts.activities(host, phase).launchEngines(engineLaunchInput(plan, host, force));
    return { note: `${r.action} ${r.servers.length} server(s)` };
  },
  ready: async ({ acts, plan, phase }, _spec, host) => {
    const r = await acts.activities(host, phase).awaitEnginesReady(engineReadyInput(plan, host));
    return { note: `${r.servers} server(s) ready after ${seconds(r.waitedMs)}` };
  },
  cleanup: async ({ acts, plan, phase }, _spec, host) => {
    const r = await acts.activities(host, phase).cleanupHost(cleanupInput(plan, host));
    return {
      note:
        `removed ${r.removedContainers.length} container(s), ${r.removedFiles ?? 0} file(s), ${r.removedDirs ?? 0} folder(s)` +
        (r.kept ? `; kept ${r.kept} still holding others' files` : ''),
    };
  },
};

async function readDeviceIps(
  { acts, plan, phase }: StepCall,
  _spec: unknown,
  host: string,
): Promise<HostStepResult> {
  const h = planHost(plan, host);
  const outputs = await acts.activities(host, phase).readDeviceIps({
    target: hostRef(plan, h),
    cli: h.container.cli,
    container: h.container.name,
    devices: h.devices,
  });
  // What the ranktable build reads of an output that parses is its IP; only an output it
  // refuses is kept whole, to be quoted to the operator (512 × 16 raw outputs are ~0.6 MB).
  return {
    kept: outputs.map((o) => {
      const ip = ipOf(o.output);
      return ip === undefined ? o : { device: o.device, output: `ipaddr:${ip}` };
    }),
  };
}

async function copyRanktables(
  { acts, plan, phase }: StepCall,
  spec: StepOf<'copyRanktables'>,
  host: string,
): Promise<HostStepResult> {
  const h = planHost(plan, host);
  const coordinator = planHost(plan, plan.ranktable.coordinator);
  const r = await acts.activities(host, phase).writeRanktables({
    target: hostRef(plan, h),
    owner: owner(plan, h),
    root: plan.settings.ranktable_save_path,
    copy: { source: hostRef(plan, coordinator), hash: spec.hash },
    own: ownRanktableFiles(plan.ranktable, host),
  });
  return { note: `${r.written} written, ${r.unchanged} unchanged` };
}

/** The note of a copy (sync_code, the image archive): what it sent, or that nothing changed. */
export function copyNote(r: { changed: boolean; installed: boolean; bytesSent: number }): string {
  return r.changed || r.installed ? `${r.bytesSent} B sent${r.installed ? ', installed' : ''}` : 'unchanged';
}

/** One host's part of a step: the activity call a fan-out makes for it. */
export async function runHostStep(
  acts: StepActivities,
  plan: Plan,
  phase: Phase,
  spec: HostStepSpec,
  host: string,
): Promise<HostStepResult> {
  const run = STEP_RUNNERS[spec.kind] as (
    c: StepCall,
    spec: HostStepSpec,
    host: string,
  ) => Promise<HostStepResult>;
  return await run({ acts, plan, phase }, spec, host);
}

/** How one host's step ended, as a child workflow reports it to the cluster workflow. */
export interface HostStepOutcome {
  host: string;
  state: 'running' | 'done' | 'failed';
  at: number;
  note?: string;
  error?: HostError;
  kept?: unknown;
}

/** Progress of a child's hosts, signalled to the cluster workflow in batches (no `kept` data). */
export interface HostStepsProgress {
  step: string;
  phase: Phase;
  outcomes: HostStepOutcome[];
}
