import { patched } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import type { PhaseContext } from './context';
import { runFetchLogPhase } from './fetchLogPhase';
import { runRanktablePhase } from './ranktablePhase';
import { runProxyPhase, runServerPhase, verifyPhase } from './serverPhases';
import { syncCodeTargets } from './steps';
import type { HostStepSpec } from './hostSteps';
import { CODE_SYNC_FAN_OUT, IMAGE_ARCHIVE } from '../patches';

type PhaseRunner = (ctx: PhaseContext) => Promise<void>;

const allHosts = (plan: Plan) => plan.hosts.map((h) => h.name);

/**
 * Phases the cluster workflow runs, by the seed's tag names. Each fans its step out over the
 * hosts it concerns.
 */
export const PHASE_RUNNERS: Record<Phase, PhaseRunner> = {
  preflight: (ctx) => ctx.hostSteps('preflight', 'preflight', allHosts(ctx.plan), { kind: 'preflight' }),

  run_docker: async (ctx) => {
    // An image archive (image_archive) reaches every machine as the code does, fanned out, and is
    // loaded where an image is missing, before any container starts.
    if ((ctx.plan.settings.image_archive ?? '') !== '' && patched(IMAGE_ARCHIVE)) {
      const machines = syncCodeTargets(ctx.plan);
      await ctx.hostSteps('image_archive', 'run_docker', machines, {
        kind: 'copyFanOut',
        artefact: 'imageArchive',
        fanOut: ctx.plan.settings.code_sync_fan_out,
        holders: machines.filter((h) => ctx.state.isDone('image_archive', h)),
      });
      await ctx.hostSteps('image_load', 'run_docker', allHosts(ctx.plan), { kind: 'loadImages' });
    }
    await ctx.hostSteps('run_docker', 'run_docker', allHosts(ctx.plan), { kind: 'container' });
  },

  sync_code: async (ctx) => {
    const targets = syncCodeTargets(ctx.plan);
    for (const h of allHosts(ctx.plan)) {
      if (!targets.includes(h))
        ctx.state.markSkipped(h, 'sync_code', 'shares its machine with a synced host');
    }
    // Hosts pass the code on to each other when there are more of them than the executor sends
    // to at once (issue 16); runs started before the fan-out replay with every copy direct.
    const fanOut = ctx.plan.settings.code_sync_fan_out ?? 0;
    const spec: HostStepSpec =
      fanOut > 0 && targets.length > fanOut && patched(CODE_SYNC_FAN_OUT)
        ? {
            kind: 'copyFanOut',
            artefact: 'code',
            fanOut,
            holders: targets.filter((h) => ctx.state.isDone('sync_code', h)),
          }
        : { kind: 'syncCode' };
    await ctx.hostSteps('sync_code', 'sync_code', targets, spec);
  },

  ranktable: runRanktablePhase,
  run_server: runServerPhase,
  run_proxy: runProxyPhase,
  verify: verifyPhase,
  fetch_log: runFetchLogPhase,

  clean_up: (ctx) => cleanupAllHosts(ctx),
};

/**
 * Stop engines, remove containers, and remove what the hosts' manifests record as made by this
 * tool (scripts, ranktables, run folders), on every host.
 */
export async function cleanupAllHosts(ctx: PhaseContext): Promise<void> {
  ctx.state.resetPhase('clean_up');
  ctx.state.showPhase('clean_up');
  await ctx.hostSteps('clean_up', 'clean_up', allHosts(ctx.plan), { kind: 'cleanup' });
  ctx.state.finishPhase('clean_up', allHosts(ctx.plan), Date.now());
}

export function clusterEndpoints(plan: Plan): Record<string, string> {
  return plan.proxy ? { proxy: `http://${plan.proxy.address}:${plan.proxy.listenPort}` } : {};
}
