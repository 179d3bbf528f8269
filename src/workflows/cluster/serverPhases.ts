import { uuid4 } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { PhaseContext } from './context';
import type { RestartRequest } from './messages';
import { engineLaunchInput, engineReadyInput, proxyInput, serverStages, verifyInput } from './serverSteps';
import { syncCodeInput, syncCodeTargets } from './steps';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Launch and wait for readiness, stage by stage; `force` restarts servers that are running. */
async function startServers(
  ctx: PhaseContext,
  stepPrefix: string,
  hosts: Set<string>,
  force: boolean,
): Promise<void> {
  const stages = serverStages(ctx.plan).map((s) => s.filter((h) => hosts.has(h)));
  for (const [i, stage] of stages.entries()) {
    if (stage.length === 0) continue;
    await ctx.fanOut(
      `${stepPrefix}.${i}`,
      'run_server',
      stage,
      async (h) => {
        const a = ctx.activities(h, 'run_server');
        const launched = await a.launchEngines(engineLaunchInput(ctx.plan, h, force));
        const ready = await a.awaitEnginesReady(engineReadyInput(ctx.plan, h));
        return { action: launched.action, servers: ready.servers, waitedMs: ready.waitedMs };
      },
      (r) => `${r.action}; ${r.servers} server(s) ready after ${seconds(r.waitedMs)}`,
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

/** Hosts a restart request names: engine hosts, narrowed by role and by host name. */
export function restartTargets(plan: Plan, request: RestartRequest): string[] {
  return plan.hosts
    .filter((h) => h.role !== 'proxy')
    .filter((h) => !request.roles?.length || request.roles.includes(h.role as 'prefill' | 'decode'))
    .filter((h) => !request.hosts?.length || request.hosts.includes(h.name))
    .map((h) => h.name);
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
