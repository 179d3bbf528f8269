import { patched, uuid4 } from '@temporalio/workflow';
import type { Plan } from '../../plan/types';
import type { PhaseContext } from './context';
import type { RestartRequest } from './messages';
import { instanceHosts, proxyInput, serverGroups, verifyInput } from './serverSteps';
import { syncCodeTargets } from './steps';
import { RESTART_ENSURES_CONTAINERS, RETRY_RELAUNCHES_WHOLE_INSTANCE } from '../patches';

/** Launch (master wave first) and await readiness, group by group; `force` restarts running servers. */
export async function startServers(
  ctx: PhaseContext,
  stepPrefix: string,
  hosts: Set<string>,
  force: boolean,
): Promise<void> {
  for (const [g, group] of serverGroups(ctx.plan).entries()) {
    const launchSteps = group.launch.map((_, w) => `${stepPrefix}.launch.${g}.${w}`);
    const readyStep = `${stepPrefix}.ready.${g}`;
    const relaunch = instancesToRelaunch(ctx, group.ready, hosts, [...launchSteps, readyStep]);
    for (const [w, wave] of group.launch.entries()) {
      await ctx.hostSteps(
        launchSteps[w]!,
        'run_server',
        wave.filter((h) => hosts.has(h)),
        { kind: 'launch', force, ...(relaunch.size > 0 && { forceHosts: [...relaunch] }) },
      );
    }
    await ctx.hostSteps(
      readyStep,
      'run_server',
      group.ready.filter((h) => hosts.has(h)),
      { kind: 'ready' },
    );
  }
}

/**
 * On a retry: the hosts of every instance in which a host's run_server step failed last time, with
 * their launch and readiness steps forgotten, to be launched again with a forced restart (master
 * first, as on the first start). An instance is one unit — a Ray group, a data-parallel group —
 * so re-running only the failed host's step repeats the failure: a member that joins late finds a
 * head whose engine already gave up waiting, a head whose readiness failed is never relaunched.
 * Runs recorded before this rule (no marker in their history) retry the failed step alone.
 */
function instancesToRelaunch(
  ctx: PhaseContext,
  groupHosts: string[],
  hosts: Set<string>,
  steps: string[],
): Set<string> {
  const failed = groupHosts.filter(
    (h) => hosts.has(h) && ctx.state.cell(h, 'run_server')?.state === 'failed',
  );
  if (failed.length === 0 || !patched(RETRY_RELAUNCHES_WHOLE_INSTANCE)) return new Set();
  const relaunch = instanceHosts(ctx.plan, failed).filter((h) => hosts.has(h));
  for (const h of relaunch) for (const step of steps) ctx.state.forgetStep(step, h);
  return new Set(relaunch);
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
  // After a host rebooted its container exists but is stopped (`Created`): engines cannot start
  // in it, so containers come first. Restarts recorded before this step replay without it.
  if (patched(RESTART_ENSURES_CONTAINERS)) {
    await ctx.hostSteps(`restart.${round}.container`, 'run_docker', hosts, { kind: 'container' });
  }
  if (request.syncCode) {
    const targets = syncCodeTargets(ctx.plan).filter((h) => hosts.includes(h));
    await ctx.hostSteps(`restart.${round}.sync`, 'sync_code', targets, { kind: 'syncCode' });
  }
  await startServers(ctx, `restart.${round}`, new Set(hosts), true);
  await ctx.fanOut(`restart.${round}.proxy`, 'run_proxy', [ctx.plan.proxy.host], (h) =>
    ctx.activities(h, 'run_proxy').ensureProxy(proxyInput(ctx.plan)),
  );
}
