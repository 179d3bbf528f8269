/**
 * Deploy benchmark on the simulated cluster with the real Temporal server. Prints, measured in
 * this run:
 *   1. run_docker + sync_code over 24 hosts with Ansible's default 5 forks vs omni-deploy's
 *      default parallelism (50): the fan-out ratio;
 *   2. a full sim-2P1D deploy (every phase, readiness-gated) vs the seed playbook's fixed waits
 *      alone (a 45 s pause between starting decode and prefill, §5 of the behaviour spec):
 *      the readiness ratio.
 * Run: npm run bench:deploy   (about 2 minutes; uses sim instances 40 and 41)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ensureImages, hostsFromInventory, simContext, simDown, simImages, simUp } from '../sim';
import { planFromFile } from '../src/client/planFile';
import type { Plan } from '../src/plan/types';
import type { Phase } from '../src/shared/phases';
import {
  startDeploy,
  startDeployEnv,
  testOptions,
  waitForStatus,
  type DeployEnv,
} from '../test/helpers/deploy';
import { upTestCluster } from '../test/helpers/simCluster';
import { installQuietRuntime } from '../src/worker';

const FAN_OUT_HOSTS = 24;
const SEED_FIXED_WAIT_S = 45;

/** 23 single-host prefill instances, one decode host, a proxy beside the first prefill. */
export function fanOutInventory(ctx: ReturnType<typeof simContext>, work: string): string {
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    `    ansible_ssh_private_key_file: '${ctx.dir}/client_key'`,
    `    known_hosts_file: '${ctx.dir}/known_hosts'`,
    '    global_port_base: 8000',
    '    base_api_port: 9000',
    '    proxy_port: 7000',
    '    port_offset: { P: 0, D: 100 }',
    '    MODEL_PATH: /data/models/sim-model',
    // This checkout's images (ensureImages ran before): another checkout may own `:latest`.
    `    DOCKER_IMAGE_ID: ${simImages(ctx).engine}`,
    `    proxy_image: ${simImages(ctx).proxy}`,
    `    LOCAL_CODE_PATH: '${work}/code'`,
    `    LOG_PATH_IN_EXECUTOR: '${work}/logs'`,
    '    code_install_command: \'test -f "$CODE_PATH/omniinfer/setup.py"\'',
    "    ascend_rt_visible_devices: '0,1'",
    '    cluster_name: bench-fanout',
    '  children:',
    '    P:',
    '      hosts:',
  ];
  for (let i = 0; i < FAN_OUT_HOSTS - 1; i++) {
    lines.push(
      `        p${i}:`,
      `          ansible_host: '${ctx.subnet}.${11 + i}'`,
      '          node_rank: 0',
      `          kv_rank: ${i}`,
      `          node_port: ${8000 + i}`,
      `          api_port: ${9000 + i}`,
      `          host_ip: '${ctx.subnet}.${11 + i}'`,
    );
  }
  const d = `${ctx.subnet}.${11 + FAN_OUT_HOSTS - 1}`;
  lines.push(
    '    D:',
    '      hosts:',
    '        d0:',
    `          ansible_host: '${d}'`,
    '          node_rank: 0',
    '          node_port: 8100',
    '          api_port: 9100',
    `          host_ip: '${d}'`,
    '    C:',
    '      hosts:',
    '        c0:',
    `          ansible_host: '${ctx.subnet}.11'`,
    '          node_rank: 0',
    '          node_port: 7000',
  );
  const file = path.join(work, 'fanout.yml');
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function timedDeploy(
  deploy: DeployEnv,
  plan: Plan,
  phases: Phase[],
  parallelism: number,
): Promise<number> {
  const t0 = performance.now();
  const handle = await startDeploy(deploy.client, plan, testOptions(phases, { parallelism }));
  const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 600_000);
  if (status.stage !== 'ready' && status.stage !== 'cleaned') {
    throw new Error(`deploy failed: ${JSON.stringify(status.failures)}`);
  }
  const seconds = (performance.now() - t0) / 1000;
  // A cluster that reached `ready` stays up as the workflow; clean_up ends it by itself.
  if (status.stage === 'ready') await handle.terminate();
  return seconds;
}

async function main(): Promise<void> {
  installQuietRuntime();
  const deploy = await startDeployEnv();
  const ctx = simContext(40);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-bench-'));
  try {
    // 1. Fan-out: the same work with 5 at a time (Ansible's forks) and 50 at a time.
    await simDown(ctx);
    fs.mkdirSync(path.join(work, 'code', 'omniinfer'), { recursive: true });
    fs.writeFileSync(path.join(work, 'code', 'omniinfer', 'setup.py'), '#\n');
    await ensureImages(ctx);
    const inventory = fanOutInventory(ctx, work);
    await simUp(hostsFromInventory(inventory), { ctx, devices: 2 });
    const plan = planFromFile(inventory);
    const phases: Phase[] = ['run_docker', 'sync_code'];
    const cleanup = async () => timedDeploy(deploy, plan, ['clean_up'], 50);
    const forks5 = await timedDeploy(deploy, plan, phases, 5);
    await cleanup();
    const par50 = await timedDeploy(deploy, plan, phases, 50);
    await cleanup();
    console.log(`fan-out over ${FAN_OUT_HOSTS} hosts (run_docker + sync_code):`);
    console.log(`  5 at a time (Ansible forks): ${forks5.toFixed(1)} s`);
    console.log(`  50 at a time (omni-deploy):  ${par50.toFixed(1)} s`);
    console.log(`  ratio: ${(forks5 / par50).toFixed(2)}x faster`);
    await simDown(ctx);

    // 2. A full deploy gated by readiness vs the seed's fixed waits alone.
    const cluster = await upTestCluster('sim-2P1D', 41);
    try {
      const full = await timedDeploy(
        deploy,
        cluster.plan(),
        ['preflight', 'run_docker', 'sync_code', 'ranktable', 'run_server', 'run_proxy', 'verify'],
        50,
      );
      console.log(`full sim-2P1D deploy, readiness-gated, incl. a verified completion: ${full.toFixed(1)} s`);
      console.log(`the seed's fixed waits alone (pause before prefill): ${SEED_FIXED_WAIT_S} s`);
      console.log(
        `  ratio: the seed sleeps ${(SEED_FIXED_WAIT_S / full).toFixed(1)}x longer than the whole deploy takes`,
      );
    } finally {
      await cluster.down();
    }
  } finally {
    await simDown(ctx);
    fs.rmSync(work, { recursive: true, force: true });
    await deploy.stop();
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
