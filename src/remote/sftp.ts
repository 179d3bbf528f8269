import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { RemoteError, RemoteFileError, describeHost } from './errors';
import { exec } from './exec';
import type { RemoteHost } from './host';
import type { SshPool } from './pool';

export async function putFile(
  pool: SshPool,
  host: RemoteHost,
  localPath: string,
  remotePath: string,
): Promise<void> {
  await withSftp(pool, host, `upload ${localPath} to ${remotePath}`, (sftp) =>
    call<void>((cb) => sftp.fastPut(localPath, remotePath, cb)),
  );
}

export async function getFile(
  pool: SshPool,
  host: RemoteHost,
  remotePath: string,
  localPath: string,
): Promise<void> {
  await withSftp(pool, host, `download ${remotePath} to ${localPath}`, (sftp) =>
    call<void>((cb) => sftp.fastGet(remotePath, localPath, cb)),
  );
}

/**
 * Readers of `remotePath` see the old content or the new one, never a half-written file: the
 * content goes to a temporary name in the same directory (same filesystem) and is renamed over.
 */
export async function writeFileAtomic(
  pool: SshPool,
  host: RemoteHost,
  remotePath: string,
  content: string | Buffer,
  mode = 0o644,
): Promise<void> {
  const tmp = path.posix.join(
    path.posix.dirname(remotePath),
    `.${path.posix.basename(remotePath)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  await withSftp(pool, host, `write ${remotePath}`, async (sftp) => {
    try {
      await call<void>((cb) => sftp.writeFile(tmp, content, { mode }, cb));
      // The mode given at creation is filtered by the remote umask.
      await call<void>((cb) => sftp.chmod(tmp, mode, cb));
      // Plain SFTP rename refuses to replace an existing file; OpenSSH's extension does replace.
      await call<void>((cb) => sftp.ext_openssh_rename(tmp, remotePath, cb));
    } catch (err) {
      await call<void>((cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
      throw err;
    }
  });
}

/** sha256 (hex) of a remote file, or undefined when there is no such file. */
export async function sha256(
  pool: SshPool,
  host: RemoteHost,
  remotePath: string,
  opts: { sudo?: boolean; signal?: AbortSignal } = {},
): Promise<string | undefined> {
  const r = await exec(pool, host, ['sha256sum', '--', remotePath], { ...opts, check: false });
  if (r.code === 0) return r.stdout.trim().split(/\s+/)[0];
  if (/no such file/i.test(r.stderr)) return undefined;
  throw new RemoteFileError(host, `cannot hash ${remotePath} on ${describeHost(host)}: ${r.stderr.trim()}`);
}

async function withSftp<T>(
  pool: SshPool,
  host: RemoteHost,
  what: string,
  use: (sftp: SFTPWrapper) => Promise<T>,
): Promise<T> {
  const lease = await pool.open(host, (_client, ssh) => ssh.requestSFTP());
  try {
    return await use(lease.value);
  } catch (err) {
    if (err instanceof RemoteError) throw err;
    throw new RemoteFileError(
      host,
      `cannot ${what} on ${describeHost(host)}: ${(err as Error).message}; check that the directory exists ` +
        `and ${host.user} may write there`,
      { cause: err },
    );
  } finally {
    lease.value.end();
    lease.release();
  }
}

function call<T>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value as T))));
}
