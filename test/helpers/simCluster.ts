import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  hostsFromInventory,
  simContext,
  simDown,
  simUp,
  withSimImages,
  type SimCluster,
  type SimContext,
  type SimEngine,
} from '../../sim';
import { planFromFile } from '../../src/client/planFile';
import type { Plan } from '../../src/plan/types';

export interface TestCluster {
  ctx: SimContext;
  sim: SimCluster;
  /** A copy of the layout's sim inventory, on this instance's subnet with this test's folders. */
  inventoryFile: string;
  plan: (extraVars?: Record<string, string>) => Plan;
  /** The executor's code folder (LOCAL_CODE_PATH/omniinfer). */
  codeDir: string;
  logDir: string;
  down: () => Promise<void>;
}

const INVENTORIES = path.join(__dirname, '..', '..', 'inventories');

/**
 * A simulated cluster of one of the shipped sim layouts on its own sim instance (subnet
 * 10.231.<instance>.0/24, own namespaces and state), so tests never touch the operator's
 * instance 0. The inventory copy differs from the shipped one only in addresses, in the
 * executor folders, which live in a temp dir, and in naming this checkout's simulated images.
 */
export async function upTestCluster(
  layout: 'sim-2P1D' | 'sim-4P1D' | 'sim-multihost',
  instance: number,
  opts: { devices?: number; engine?: SimEngine } = {},
): Promise<TestCluster> {
  // OMNI_SIM_TEST_INSTANCE runs the test on another instance (another checkout's tests may hold
  // this one on the same machine).
  const ctx = simContext(Number(process.env.OMNI_SIM_TEST_INSTANCE ?? instance));
  await simDown(ctx); // a previous run that died leaves its hosts behind
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `omni-${layout}-`));
  const codeDir = path.join(work, 'code', 'omniinfer');
  const logDir = path.join(work, 'logs');
  fs.mkdirSync(codeDir, { recursive: true });
  fs.writeFileSync(path.join(codeDir, 'setup.py'), '# stand-in for the omniinfer checkout\n');
  fs.mkdirSync(logDir, { recursive: true });

  const text = fs
    .readFileSync(path.join(INVENTORIES, `${layout}.yml`), 'utf8')
    .replaceAll('10.231.0.', `${ctx.subnet}.`)
    .replace(/(ansible_ssh_private_key_file:).*/, `$1 '${ctx.dir}/client_key'`)
    .replace(/(known_hosts_file:).*/, `$1 '${ctx.dir}/known_hosts'`)
    .replace(/(LOCAL_CODE_PATH:).*/, `$1 '${path.dirname(codeDir)}'`)
    .replace(/(LOG_PATH_IN_EXECUTOR:).*/, `$1 '${logDir}'`)
    .replace(/(cluster_name:).*/, `$1 ${layout.toLowerCase()}-i${instance}`);
  const inventoryFile = path.join(work, `${layout}.yml`);
  fs.writeFileSync(inventoryFile, text);

  // The hosts' engine: the one asked, else OMNI_SIM_ENGINE (the suite on docker hosts), else podman.
  const sim = await simUp(hostsFromInventory(inventoryFile), {
    ctx,
    devices: opts.devices ?? 2,
    ...(opts.engine ? { engine: opts.engine } : {}),
  });
  // This checkout's images by content, not `:latest` (another checkout may have built that).
  fs.writeFileSync(inventoryFile, withSimImages(text, sim.images));
  return {
    ctx,
    sim,
    inventoryFile,
    plan: (extraVars = {}) => planFromFile(inventoryFile, extraVars),
    codeDir,
    logDir,
    down: async () => {
      await simDown(ctx);
      fs.rmSync(work, { recursive: true, force: true });
    },
  };
}
