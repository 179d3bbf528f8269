import type { Remote, RemoteHost } from '../remote';
import {
  formatPathViolation,
  hostPathViolations,
  isWithin,
  managedFolderViolations,
} from '../shared/hostPaths';
import {
  CLAIM_DIRS,
  CLEANUP,
  RECORD_FILES,
  REMOVE_OWNED_FILES,
  ownershipArgv,
  parseCleanupSummary,
  type Owner,
} from '../remote/ownership';
import { fail } from './failures';
import { TIMEOUTS } from './timeouts';

/**
 * The files and folders one host step makes, recorded in the host's manifest before they exist
 * (src/remote/ownership.ts), so cleanup can remove exactly them. Every activity that creates
 * something under a managed folder goes through here.
 */
export class HostFiles {
  constructor(
    private readonly remote: Remote,
    private readonly host: RemoteHost,
    private readonly owner: Owner,
    private readonly signal?: AbortSignal,
  ) {}

  private async run(script: string, args: readonly string[], stdin?: string): Promise<string> {
    const r = await this.remote.exec(this.host, ownershipArgv(script, this.owner, args), {
      ...(stdin !== undefined && { stdin }),
      check: false,
      signal: this.signal,
      timeoutMs: TIMEOUTS.ownershipManifest,
    });
    if (r.code === 3) throw fail('UnsafePath', `${this.host.name}: ${r.stderr.trim()}`);
    if (r.code !== 0) {
      throw fail(
        'ManifestFailed',
        `${this.host.name}: recording what omni-deploy makes failed (exit ${r.code}): ${r.stderr.trim()}`,
      );
    }
    return r.stdout;
  }

  /** Create folders under a managed root, recording the ones this creates. */
  async claimDirs(root: string, dirs: readonly string[]): Promise<void> {
    this.checkRoot(root, dirs);
    if (dirs.length > 0) await this.run(CLAIM_DIRS, [root, ...dirs]);
  }

  /**
   * The plan-time rules once more, where it matters (defense in depth: an input may come from a
   * client other than the CLI): a root is a managed folder, and what goes under it stays there.
   */
  private checkRoot(root: string, paths: readonly string[]): void {
    const problems = managedFolderViolations(root).map(formatPathViolation);
    for (const p of paths) {
      if (hostPathViolations(p).length > 0 || !isWithin(p, root))
        problems.push(`${p} is not a clean path inside ${root}`);
    }
    if (problems.length > 0) throw fail('UnsafePath', `${this.host.name}: ${problems.join('; ')}`);
  }

  /** Record files about to be written under a managed root (by us or by a script we run). */
  async recordFiles(root: string, files: readonly string[]): Promise<void> {
    this.checkRoot(root, files);
    if (files.length === 0) return;
    // Many paths go on stdin: one command line carries at most 128 KiB on Linux.
    if (files.join('').length > 16_384) await this.run(RECORD_FILES, [root], `${files.join('\n')}\n`);
    else await this.run(RECORD_FILES, [root, ...files]);
  }

  /** Record, then write atomically. */
  async write(root: string, path: string, content: string, mode?: number): Promise<void> {
    await this.recordFiles(root, [path]);
    await this.remote.writeFileAtomic(this.host, path, content, mode);
  }

  /** Remove those of `paths` that the tool recorded; returns the removed ones. */
  async removeOwnedFiles(paths: readonly string[]): Promise<string[]> {
    if (paths.length === 0) return [];
    return (await this.run(REMOVE_OWNED_FILES, paths)).split('\n').filter(Boolean);
  }

  /** This host's recorded files, then the cluster's recorded folders that are empty now. */
  async cleanup(): Promise<{ files: number; dirs: number; kept: number }> {
    return parseCleanupSummary(await this.run(CLEANUP, []));
  }
}
