/**
 * The processes of a simulated host as the machine sees them: `nsenter … unshare … host-init.sh`
 * starts the host (whose PID 1 then becomes sshd), and two pid files with start times
 * (src/shared/pidFile) are the only handle on it afterwards — stopping a host signals exactly
 * those processes and the kernel takes the rest of the host's PID namespace with them.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { simScript } from './scripts';
import {
  isAlive,
  isRunning,
  readPidFile,
  signalRecorded,
  waitGone,
  writePidFile,
  type PidRecord,
} from '../src/shared/pidFile';
import { DOCKER_ROOT, type SimEngine } from './containerEngine';
import { netnsOf, simContext, type SimContext, type SimHostSpec } from './hosts';
import { findHost, hostFiles, readRegistry } from './state';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The host's PID 1 while it runs (by its recorded PID and start time). */
export function runningInit(ctx: SimContext, name: string): PidRecord | undefined {
  const init = readPidFile(hostFiles(ctx, name).initPid);
  return isRunning(init) ? init : undefined;
}

/** Starts the host's init in its network namespace (which must exist) and records its PIDs. */
export async function startHost(ctx: SimContext, h: SimHostSpec, engine: SimEngine): Promise<void> {
  const f = hostFiles(ctx, h.name);
  const log = fs.openSync(f.initLog, 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netnsOf(ctx, h)}`,
      'unshare',
      '--mount',
      '--uts',
      '--pid',
      '--fork',
      '--kill-child',
      '--propagation',
      'private',
      '/bin/bash',
      simScript('host-init.sh'),
      f.disk,
      h.name,
      h.address,
      '24',
      engine,
      DOCKER_ROOT,
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`host ${h.name}: could not start nsenter`);
  // nsenter without --pid execs unshare in place, so this is unshare's PID; its one child is
  // the host's PID 1 (bash running host-init.sh, then sshd).
  writePidFile(f.unsharePid, pid);
  for (let i = 0; i < 400; i++) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch {
      /* not yet, or died */
    }
    const initPid = Number(children.split(' ')[0]);
    if (initPid > 0) {
      writePidFile(f.initPid, initPid);
      return;
    }
    if (!isAlive(pid)) break;
    await sleep(10);
  }
  throw new Error(`host ${h.name} did not start: ${tail(f.initLog)}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Waits for the host's sshd to greet on port 22; fails early if its init died. */
export async function waitSshd(ctx: SimContext, h: SimHostSpec, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const f = hostFiles(ctx, h.name);
  const init = readPidFile(f.initPid);
  while (Date.now() < until) {
    const banner = await new Promise<string>((resolve) => {
      const s = net.connect({ host: h.address, port: 22, timeout: 1000 });
      let data = '';
      s.on('data', (d) => {
        data += d;
        if (data.includes('\n')) s.destroy();
      });
      s.on('close', () => resolve(data));
      s.on('timeout', () => s.destroy());
      s.on('error', () => resolve(''));
    });
    if (banner.startsWith('SSH-')) return;
    if (!isRunning(init)) {
      throw new Error(`host ${h.name}: sshd died: ${tail(f.initLog)}`);
    }
    await sleep(30);
  }
  throw new Error(`host ${h.name}: sshd did not answer on ${h.address}:22 within ${timeoutMs} ms`);
}

/** Stops a host's processes: its PID 1 by record, and with it (the kernel) its PID namespace. */
export async function stopHostProcesses(ctx: SimContext, h: SimHostSpec): Promise<void> {
  const f = hostFiles(ctx, h.name);
  const init = readPidFile(f.initPid);
  const unshare = readPidFile(f.unsharePid);
  if (isRunning(init)) {
    signalRecorded(init, 'SIGTERM');
    if (!(await waitGone(init, 3000))) signalRecorded(init, 'SIGKILL');
    await waitGone(init, 3000);
  }
  // unshare ignores SIGTERM while waiting for its child; with the child gone it exits itself.
  if (unshare && !(await waitGone(unshare, 2000))) {
    signalRecorded(unshare, 'SIGKILL');
    await waitGone(unshare, 2000);
  }
  fs.rmSync(f.initPid, { force: true });
  fs.rmSync(f.unsharePid, { force: true });
}

/**
 * SIGKILLs every process in a network namespace. Only for namespaces with the instance's prefix
 * that the registry lost: their processes are ours by construction, and no pid file is left.
 */
export async function killNetnsProcesses(nsPath: string): Promise<void> {
  let ino: number;
  try {
    ino = fs.statSync(nsPath).ino;
  } catch {
    return;
  }
  for (const p of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (fs.statSync(`/proc/${p}/ns/net`).ino === ino) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await sleep(100);
}

/** Runs a command inside a running host's namespaces, as its root would (for tests and debugging). */
export async function hostExec(
  nameOrAddress: string,
  argv: string[],
  input?: string,
  ctx = simContext(),
): Promise<string> {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  const init = runningInit(ctx, h.name);
  if (!init) throw new Error(`host ${h.name} is not running`);
  return new Promise((resolve, reject) => {
    const child = spawn('nsenter', ['-t', String(init.pid), '-m', '-u', '-n', '-p', '--', ...argv], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} on ${h.name}: exit ${code}: ${err}`)),
    );
    // A command that exits without reading its input closes the pipe first: EPIPE is no error.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}
