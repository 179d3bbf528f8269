import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { LATEST_IMAGES } from '../../sim';
import { ssh } from '../helpers/deploy';
import { measureFault, stopContainer, formatResult } from '../helpers/faults';
import {
  assertPrefillThenDecode,
  complete,
  liveServers,
  proxyUrl,
  waitForStatus,
  type ClusterHandle,
} from '../helpers/serve';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * sim-2P1D on hosts that run Docker as production hosts do (instance 74): Debian's dockerd 20.10
 * in every simulated host and the real Docker CLI as `docker` (sim/containerEngine.ts), whatever
 * OMNI_SIM_ENGINE says. Through the CLI an operator uses, with a `deploy worker` process: a deploy
 * and a completion through the proxy, a decode container stopped by hand and repaired by the
 * health watch, a prefill rollout, and `deploy down`, after which `docker ps -a` is empty on every
 * host. The whole e2e tier runs on docker hosts with OMNI_SIM_ENGINE=docker (README).
 */
const INSTANCE = 74;

describe('sim-2P1D on hosts running dockerd and the Docker CLI', { timeout: 600_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE, { engine: 'docker', workers: 'process', workerArgs: [] });
  let handle: ClusterHandle;

  const hostsOf = () => sim.plan.hosts;
  const on = (host: string, command: string) =>
    ssh(sim.cluster.ctx, sim.plan.hosts.find((h) => h.name === host)!.address, command);
  const pidsOf = async (host: string) =>
    (await liveServers(sim.cluster.ctx, sim.plan, host)).map((s) => s.pid).join(',');
  const serving = (s: { stage: string; health?: { state: string }; operation?: unknown }) =>
    s.stage === 'ready' && !s.operation && s.health?.state === 'serving';

  it('deploy start → ready → a completion through the proxy; every container is Docker’s', async () => {
    const start = await sim.cli(['start', '-i', sim.cluster.inventoryFile, '--watch-every', '2s']);
    assert.equal(start.code, 0, `${start.stdout}\n${start.stderr}`);
    handle = sim.adopt();
    await waitForStatus(handle, 'serving after the deploy', serving, 120_000);

    for (const h of hostsOf()) {
      // A Docker daemon answers, not podman: its server version and the runtime it ran the container with.
      const version = await on(h.name, `docker version --format '{{.Server.Version}}'`);
      assert.match(version.trim(), /^20\.10\./, `${h.name}: ${version}`);
      const runtime = await on(
        h.name,
        `docker inspect --format '{{.HostConfig.Runtime}}' ${h.container.name}`,
      );
      assert.equal(runtime.trim(), 'omni-runc', h.name);
    }
    // Hand-written inventories (the shipped sim ones, `deploy demo`) name the images `:latest`:
    // a docker host has them under that name too, the same image as this checkout's tag.
    const ids = await on(
      'p0',
      `docker image inspect --format '{{.Id}}' ${sim.cluster.sim.images.engine} ${LATEST_IMAGES.engine}`,
    );
    const [tagged, latest] = ids.trim().split('\n');
    assert.ok(tagged && tagged === latest, ids);
    const plan = sim.plan;
    const r = await complete(proxyUrl(plan), 'completions', {
      model: plan.settings.served_model_name,
      prompt: 'hello docker',
      max_tokens: 4,
    });
    assertPrefillThenDecode(plan, r);
  });

  it('a decode container stopped by hand (docker stop) is repaired by the health watch', async (t) => {
    const plan = sim.plan;
    const result = await measureFault(
      {
        ctx: sim.cluster.ctx,
        plan,
        handle,
        url: `${proxyUrl(plan)}/v1/completions`,
        model: plan.settings.served_model_name,
      },
      stopContainer('d0', 'decode-0'),
    );
    t.diagnostic(formatResult(result));
    assert.ok(result.servedAfter, formatResult(result));
    const running = await on(
      'd0',
      `docker inspect --format '{{.State.Running}}' ${plan.hosts.find((h) => h.name === 'd0')!.container.name}`,
    );
    assert.equal(running.trim(), 'true');
  });

  it('a prefill rollout replaces the prefill engines; decode keeps its processes', async () => {
    const plan = sim.plan;
    const args = plan.settings.prefill_extra_args.join(' ').replace('--max-num-seqs 16', '--max-num-seqs 8');
    assert.notEqual(args, plan.settings.prefill_extra_args.join(' '));
    const before = { p0: await pidsOf('p0'), d0: await pidsOf('d0') };
    const r = await sim.cli(['start', '-i', sim.cluster.inventoryFile, '-e', `prefill_extra_args=${args}`]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /rollout: done/);
    assert.notEqual(await pidsOf('p0'), before.p0, 'prefill restarted with the new argument');
    assert.equal(await pidsOf('d0'), before.d0, 'decode untouched');
    await waitForStatus(handle, 'serving after the rollout', serving, 120_000);
  });

  it('deploy down: no container left in docker ps -a on any host', async () => {
    const down = await sim.cli(['down', sim.plan.cluster]);
    assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
    for (const h of hostsOf()) {
      assert.equal(
        (await on(h.name, `docker ps -a --format '{{.Names}}'`)).trim(),
        '',
        `${h.name}: docker ps -a`,
      );
    }
  });
});
