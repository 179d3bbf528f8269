/**
 * Self-healing benchmark on the simulated cluster (sim-2P1D, sim instance 52) with the real
 * Temporal server and a `deploy worker` process: for each fault, with load running through the
 * proxy (concurrency 2), how long until the status said so (detect), until the cluster served
 * again with no command (serve), and how many requests failed meanwhile. The watch probes every
 * 2 s here (the default is 10 s: detection then takes up to ~15 s).
 * Run: npm run bench:heal   (a few minutes)
 */
import { selectPhases } from '../src/shared/phases';
import type { HealthOptions } from '../src/workflows/cluster/types';
import { startDeploy, startDeployEnv, TEST_EXECUTOR, testOptions } from '../test/helpers/deploy';
import {
  formatResult,
  killDecodeEngine,
  measureFault,
  poll,
  powerOff,
  stopContainer,
  type FaultContext,
} from '../test/helpers/faults';
import { upTestCluster } from '../test/helpers/simCluster';
import { startWorkerProcess } from '../test/helpers/workerProcess';

const HEALTH: HealthOptions = {
  intervalMs: 2000,
  probeTimeoutMs: 3000,
  maxWatchMs: 600_000,
  heal: true,
  healAttempts: 4,
  healBackoffMs: [2000, 5000, 10_000],
};

async function main(): Promise<void> {
  const cluster = await upTestCluster('sim-2P1D', 52);
  const deploy = await startDeployEnv({ workers: false });
  const worker = await startWorkerProcess(deploy.address, ['--executor', TEST_EXECUTOR]);
  try {
    const plan = cluster.plan();
    const t0 = Date.now();
    const handle = await startDeploy(deploy.client, plan, testOptions(selectPhases(), { health: HEALTH }));
    await poll(handle, 'serving', (s) => s.health?.state === 'serving', 300_000);
    console.log(`sim-2P1D deployed and judged serving in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const f: FaultContext = {
      ctx: cluster.ctx,
      plan,
      handle,
      url: `http://${plan.proxy.address}:${plan.proxy.listenPort}/v1/completions`,
      model: plan.settings.served_model_name,
    };
    for (const fault of [
      killDecodeEngine('d1'),
      stopContainer('p1', 'prefill-1'),
      powerOff('p1', 'prefill-1'),
      powerOff('d1', 'decode-0'),
    ]) {
      console.log(formatResult(await measureFault(f, fault)));
    }
    await handle.terminate();
  } finally {
    await worker.stop();
    await deploy.stop();
    await cluster.down();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
