import { uuid4 } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { PhaseContext } from './context';
import type { RestartRequest } from './messages';
import {
  engineLaunchInput,
  engineReadyInput,
  instanceHosts,
  proxyInput,
  serverGroups,
  verifyInput,
} from './serverSteps';
import { syncCodeInput, syncCodeTargets } from './steps';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Launch (master wave first) and await readiness, group by group; `force` restarts running servers. */
async function startServers(
  ctx: PhaseContext,
  stepPrefix: string,
  hosts: Set<string>,
  force: boolean,
): Promise<void> {
  for (const [g, group] of serverGroups(ctx.plan).entries()) {
    for (const [w, wave] of group.launch.entries()) {
      await ctx.fanOut(
        `${stepPrefix}.launch.${g}.${w}`,
        'run_server',
        wave.filter((h) => hosts.has(h)),
        (h) => ctx.activities(h, 'run_server').launchEngines(engineLaunchInput(ctx.plan, h, force)),
        (r) => `${r.action} ${r.servers.length} server(s)`,
      );
    }
    await ctx.fanOut(
      `${stepPrefix}.ready.${g}`,
      'run_server',
      group.ready.filter((h) => hosts.has(h)),
      (h) => ctx.activities(h, 'run_server').awaitEnginesReady(engineReadyInput(ctx.plan, h)),
      (r) => `${r.servers} server(s) ready after ${seconds(r.waitedMs)}`,
    );
  }
}

const engineHosts = (plan: Plan) => plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.name);

export async function runServerPhase(ctx: PhaseContext): Promise<void> {
  ctx.state.markSkipped(ctx.plan.proxy.host, 'run_server', 'the proxy runs no engine');
  await startServers(ctx, 'run_server', new Set(engineHosts(ctx.plan)), false);
}

export async function runProxyPhase(ctx: PhaseContext): Promise<void> {
  await ctx.fanOut(
    'run_proxy',
    'run_proxy',
    [ctx.plan.proxy.host],
    (h) => ctx.activities(h, 'run_proxy').ensureProxy(proxyInput(ctx.plan)),
    (r) => r.action,
  );
}

export async function verifyPhase(ctx: PhaseContext): Promise<void> {
  const requestId = `omni-deploy-verify-${uuid4()}`;
  await ctx.fanOut(
    'verify',
    'verify',
    [ctx.plan.proxy.host],
    (h) => ctx.activities(h, 'verify').verifyCompletion(verifyInput(ctx.plan, requestId)),
    (r) => `prefill ${r.prefill} → decode ${r.decode}`,
  );
}

/** Hosts a restart request names (engine hosts by role and name), widened to whole instances. */
export function restartTargets(plan: Plan, request: RestartRequest): string[] {
  const named = plan.hosts
    .filter((h) => h.role !== 'proxy')
    .filter((h) => !request.roles?.length || request.roles.includes(h.role as 'prefill' | 'decode'))
    .filter((h) => !request.hosts?.length || request.hosts.includes(h.name))
    .map((h) => h.name);
  return instanceHosts(plan, named);
}

/**
 * Restart the named servers in the deploy order (optionally after a code sync), waiting for each
 * to be ready again, then make sure the proxy is up. Servers not named keep running untouched.
 */
export async function restartServers(
  ctx: PhaseContext,
  request: RestartRequest,
  round: number,
): Promise<void> {
  const hosts = restartTargets(ctx.plan, request);
  if (request.syncCode) {
    const targets = syncCodeTargets(ctx.plan).filter((h) => hosts.includes(h));
    await ctx.fanOut(`restart.${round}.sync`, 'sync_code', targets, (h) =>
      ctx.executorActivities(h, 'sync_code').syncCode(syncCodeInput(ctx.plan, h)),
    );
  }
  await startServers(ctx, `restart.${round}`, new Set(hosts), true);
  await ctx.fanOut(`restart.${round}.proxy`, 'run_proxy', [ctx.plan.proxy.host], (h) =>
    ctx.activities(h, 'run_proxy').ensureProxy(proxyInput(ctx.plan)),
  );
}
