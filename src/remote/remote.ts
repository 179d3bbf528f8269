import { HostContainers } from './containerCli';
import { exec, type ExecOptions, type ExecResult } from './exec';
import type { ContainerCli } from '../shared/host';
import type { RemoteHost } from './host';
import { SshPool, type SshPoolOptions } from './pool';
import { rsync, type RsyncOptions, type RsyncResult } from './rsync';
import { getFile, putFile, sha256, writeFileAtomic } from './sftp';

/**
 * What activities use: one per worker process, holding the pooled connections of every host it
 * serves. Every method takes the target host, which says how it is verified (its known_hosts file
 * and policy); nothing here remembers a secret beyond the live connection that used it.
 */
export class Remote {
  readonly pool: SshPool;

  constructor(readonly options: SshPoolOptions = {}) {
    this.pool = new SshPool(options);
  }

  exec(host: RemoteHost, argv: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
    return exec(this.pool, host, argv, opts);
  }

  putFile(host: RemoteHost, localPath: string, remotePath: string): Promise<void> {
    return putFile(this.pool, host, localPath, remotePath);
  }

  getFile(host: RemoteHost, remotePath: string, localPath: string): Promise<void> {
    return getFile(this.pool, host, remotePath, localPath);
  }

  writeFileAtomic(
    host: RemoteHost,
    remotePath: string,
    content: string | Buffer,
    mode?: number,
  ): Promise<void> {
    return writeFileAtomic(this.pool, host, remotePath, content, mode);
  }

  sha256(host: RemoteHost, remotePath: string, opts?: { sudo?: boolean; signal?: AbortSignal }) {
    return sha256(this.pool, host, remotePath, opts);
  }

  rsync(host: RemoteHost, opts: RsyncOptions): Promise<RsyncResult> {
    return rsync(host, opts);
  }

  containers(host: RemoteHost, cli: ContainerCli, opts: { sudo?: boolean } = {}): HostContainers {
    return new HostContainers(cli, host, (argv, o) => this.exec(host, argv, { ...o, check: false }), opts);
  }

  closeAll(): Promise<void> {
    return this.pool.closeAll();
  }
}
