import * as fs from 'node:fs';
import { hostname } from 'node:os';
import * as path from 'node:path';
import { hostsFromInventory, simUp, type SimEngine } from '../../../sim';
import { planFromFile } from '../planFile';
import { PROJECT_ROOT } from '../../shared/paths';
import { clusterWorkflowId } from '../../shared/ids';
import { defaultDevServerOptions, uiUrl } from '../../temporal/devServer';
import { ensureBackgroundWorker, workerLogFile } from '../backgroundWorker';
import { connectClient } from '../temporalClient';
import { startCluster } from './cluster';
import { ensureDevServer } from './server';
import { queryStatus } from './status';

export const DEMO_INVENTORY = path.join(PROJECT_ROOT, 'inventories', 'sim-2P1D.yml');

/**
 * The README's first command: the whole product on this machine with nothing to configure. A
 * local Temporal dev server, the simulated 2P1D cluster, a worker, the deploy itself (shown live),
 * one completion through the global proxy, and where to look in the Web UI. Idempotent: run it
 * again and everything already running is reused.
 */
export async function runDemo(inventory = DEMO_INVENTORY, engine?: SimEngine): Promise<void> {
  const server = defaultDevServerOptions();
  await ensureDevServer(server);
  const sim = await simUp(hostsFromInventory(inventory), { devices: 2, ...(engine ? { engine } : {}) });
  console.log(`simulated cluster: ${sim.hosts.map((h) => `${h.name} ${h.address}`).join(', ')}`);

  const plan = planFromFile(inventory);
  // The executor's omniinfer checkout that sync_code pushes; a stand-in on a fresh machine.
  const code = path.join(plan.settings.LOCAL_CODE_PATH, 'omniinfer');
  if (!fs.existsSync(code)) {
    fs.mkdirSync(code, { recursive: true });
    fs.writeFileSync(path.join(code, 'setup.py'), '# stand-in for the omniinfer checkout (demo)\n');
  }
  const worker = await ensureBackgroundWorker();
  console.log(`${worker.started ? 'started' : 'reusing'} worker pid ${worker.pid} (log ${workerLogFile()})`);

  const { client, connection } = await connectClient();
  try {
    const running = await queryStatus(client, plan.cluster).catch(() => undefined);
    if (running?.stage === 'ready') {
      console.log(`${plan.cluster} is already deployed; reusing it`);
    } else {
      const code = await startCluster({
        inventory,
        extraVars: [],
        parallelism: 50,
        attempts: 5,
        executor: hostname(),
      });
      if (code !== 0)
        throw new Error(`the deploy did not finish (exit ${code}); \`deploy status ${plan.cluster}\``);
    }
  } finally {
    await connection.close();
  }

  const proxy = `http://${plan.proxy.address}:${plan.proxy.listenPort}`;
  const res = await fetch(`${proxy}/v1/completions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      model: plan.settings.served_model_name,
      prompt: 'Hello from omni-deploy',
      max_tokens: 8,
    }),
  });
  const answer = (await res.json()) as { choices?: { text?: string }[] };
  if (!res.ok) throw new Error(`the proxy answered ${res.status}: ${JSON.stringify(answer)}`);
  console.log(
    `\ncompletion through the proxy: ${answer.choices?.[0]?.text?.trim() ?? JSON.stringify(answer)}`,
  );
  console.log(`proxy:  ${proxy}/v1/completions`);
  console.log(
    `Web UI: ${uiUrl(server)}/namespaces/default/workflows/${encodeURIComponent(clusterWorkflowId(plan.cluster))}`,
  );
  console.log(
    `\nnext: deploy status · deploy restart --role decode · deploy down ${plan.cluster} · deploy sim down`,
  );
}
