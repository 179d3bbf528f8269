/**
 * How the tool gets into the simulated hosts: one client key (user root), a known_hosts written
 * from the host keys `sim up` generated (never scanned), and an ssh_config naming every host.
 * Nothing here disables host-key checking.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { sshConfigPath } from '../src/remote/sshConfigValue';
import { simContext, type SimContext, type SimHostSpec } from './hosts';
import { clusterFiles, hostFiles } from './state';

const run = promisify(execFile);

export async function ensureClientKey(ctx: SimContext): Promise<void> {
  const key = clusterFiles(ctx).key;
  if (!fs.existsSync(key)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'omni-deploy-sim', '-f', key]);
  }
}

/** A host's own key, on its disk (the host mounts that folder as /etc/ssh). */
const hostKey = (ctx: SimContext, name: string) =>
  path.join(hostFiles(ctx, name).disk, 'ssh/ssh_host_ed25519_key');

export async function ensureHostKey(ctx: SimContext, h: SimHostSpec): Promise<void> {
  const key = hostKey(ctx, h.name);
  if (!fs.existsSync(key)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${h.name}`, '-f', key]);
  }
}

/** known_hosts and ssh_config for every host of the cluster. */
export function writeClientFiles(ctx: SimContext, hosts: SimHostSpec[]): void {
  const f = clusterFiles(ctx);
  const lines = hosts.map((h) => {
    const pub = fs
      .readFileSync(`${hostKey(ctx, h.name)}.pub`, 'utf8')
      .trim()
      .split(' ');
    return `${h.address} ${pub[0]} ${pub[1]}`;
  });
  fs.writeFileSync(f.knownHosts, lines.join('\n') + (lines.length ? '\n' : ''));
  const cfg =
    hosts.map((h) => `Host ${h.name}\n  HostName ${h.address}\n`).join('') +
    `Host *\n  User root\n  IdentityFile ${sshConfigPath(f.key)}\n  IdentitiesOnly yes\n  UserKnownHostsFile ${sshConfigPath(f.knownHosts)}\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n`;
  fs.writeFileSync(f.sshConfig, cfg);
}

/** OpenSSH client options for a host of this cluster, strict host-key checking included. */
export function sshOptions(ctx = simContext()): string[] {
  const f = clusterFiles(ctx);
  return [
    '-i',
    f.key,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    `UserKnownHostsFile=${sshConfigPath(f.knownHosts)}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
    '-l',
    'root',
  ];
}
