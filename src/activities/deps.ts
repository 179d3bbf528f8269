import type { EngineLoadExport } from './engineLoad';
import { Remote, type SshPoolOptions } from '../remote';
import { RanktableSets } from './ranktable';
import { inventorySecrets } from './secrets';

/**
 * What the activities of one worker process share, handed to createActivities instead of living
 * in module state: whoever creates them (the worker, a test) closes them.
 */
export interface ActivityDeps {
  /**
   * The SSH pool: one connection per host for every activity of this process. Each host names
   * the known_hosts file and policy that verify it, so one pool serves every cluster.
   */
  remote: Remote;
  /** Ranktable sets this worker built or fetched, by content address (none: always fetched). */
  ranktables?: RanktableSets;
  /**
   * Set when the worker exports metrics (`deploy worker --metrics-port`): the health watch then
   * also reads each API server's load from its /metrics and exports it per unit.
   */
  engineLoad?: EngineLoadExport;
}

/** A worker's dependencies: passwords are resolved from the inventories the Plans refer to. */
export function createActivityDeps(pool: Omit<SshPoolOptions, 'secrets'> = {}): ActivityDeps {
  return { remote: new Remote({ ...pool, secrets: inventorySecrets }), ranktables: new RanktableSets() };
}

/** Closes every pooled SSH connection (worker shutdown, end of a test). */
export async function closeActivityDeps(deps: ActivityDeps): Promise<void> {
  await deps.remote.closeAll();
}
