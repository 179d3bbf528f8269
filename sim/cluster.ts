/**
 * The simulated cluster's hosts: network namespaces on a bridge, each with its own mount, UTS
 * and PID namespaces, private filesystems and a real sshd as PID 1 (sim/host-init.sh), podman as
 * `docker`, NPU stand-ins. Everything this module creates is recorded under the state folder and
 * `simDown` removes exactly that: processes by recorded PID and start time (src/shared/pidFile),
 * the namespaces and links with our prefix, the hosts' disks.
 */
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { sshConfigPath } from '../src/remote/sshConfigValue';
import { PROJECT_ROOT, stateDir } from '../src/shared/paths';
import {
  isAlive,
  isRunning,
  pidRecordOf,
  readPidFile,
  signalRecorded,
  waitGone,
  writePidFile,
} from '../src/shared/pidFile';
import { defaultDeviceTable } from './devices';

const run = promisify(execFile);
const SIM_DIR = path.join(PROJECT_ROOT, 'sim');
const BIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const ENGINE_IMAGE = 'localhost/omni-sim-engine:latest';
/**
 * The read-only image store every host's podman reads. A fixed machine path, not under the
 * checkout: hosts see their own private /tmp (and /root, /data…), so a store inside a checkout
 * that lives there would be invisible to them. Content-hashed, so checkouts can share it.
 */
export const IMAGE_STORE = process.env.OMNI_SIM_IMAGE_STORE ?? '/var/lib/omni-deploy-sim/images';
export const PROXY_IMAGE = 'localhost/omni-sim-proxy:latest';
/** Inside every host: the model folder MODEL_PATH points at in the sim inventories. */
export const SIM_MODEL_PATH = '/data/models/sim-model';

/**
 * One simulated cluster. Instance 0 is the operator's (10.231.0.0/24, names `omd-…`, state in
 * `.state/sim`); other instances let tests and benchmarks run beside it without touching it.
 */
export interface SimContext {
  instance: number;
  /** Shared by all instances: the engine binary and the read-only image store. */
  root: string;
  dir: string;
  prefix: string;
  bridge: string;
  /** First three octets, e.g. "10.231.0". */
  subnet: string;
}

export function simContext(instance = Number(process.env.OMNI_SIM_INSTANCE ?? 0)): SimContext {
  if (!Number.isInteger(instance) || instance < 0 || instance > 99) {
    throw new Error(`sim instance must be an integer 0..99 (OMNI_SIM_INSTANCE), got ${instance}`);
  }
  const root = path.join(stateDir(), 'sim');
  const prefix = instance === 0 ? 'omd-' : `omd${instance}-`;
  return {
    instance,
    root,
    dir: instance === 0 ? root : path.join(root, `instance-${instance}`),
    prefix,
    bridge: `${prefix}br`,
    subnet: `10.231.${instance}`,
  };
}

export interface SimHostSpec {
  name: string;
  address: string;
}

export type HostState = 'running' | 'off' | 'dead';

export interface SimHostStatus extends SimHostSpec {
  netns: string;
  veth: string;
  state: HostState;
  link: 'up' | 'down' | 'absent';
  /** PID of the host's sshd (its PID 1) in the machine's PID namespace. */
  pid: number | null;
}

export interface SimCluster {
  instance: number;
  stateDir: string;
  /** Private key the tool logs in with (user root). */
  keyPath: string;
  /** known_hosts with every host's key: use with StrictHostKeyChecking=yes. */
  knownHostsPath: string;
  /** An OpenSSH client config naming every host (`ssh -F … <name>`). */
  sshConfigPath: string;
  images: { engine: string; proxy: string };
  modelPath: string;
  hosts: SimHostStatus[];
}

interface Registry {
  hosts: SimHostSpec[];
  /** Whether we mounted /run/netns (ip netns add does on first use), so down can undo it. */
  mountedRunNetns: boolean;
}

export interface UpOptions {
  ctx?: SimContext;
  /** NPU devices per host (default 16). */
  devices?: number;
  log?: (line: string) => void;
}

// ---------------------------------------------------------------------------------------------
// host specs

export function hostsForCount(n: number, ctx = simContext()): SimHostSpec[] {
  if (!Number.isInteger(n) || n < 1 || n > 240) throw new Error(`--hosts must be 1..240, got ${n}`);
  return Array.from({ length: n }, (_, i) => ({
    name: `h${i + 1}`,
    address: `${ctx.subnet}.${11 + i}`,
  }));
}

/**
 * The hosts of an inventory: one per distinct `ansible_host` (p0 and c0 share a machine), named
 * after the first inventory host at that address. Reads only `ansible_host`, so it works on
 * inventories the full loader would still reject.
 */
export function hostsFromInventory(file: string): SimHostSpec[] {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as unknown;
  const byAddress = new Map<string, string>();
  const visit = (group: unknown): void => {
    if (!group || typeof group !== 'object') return;
    const g = group as { hosts?: Record<string, unknown>; children?: Record<string, unknown> };
    for (const [name, vars] of Object.entries(g.hosts ?? {})) {
      const address = (vars as { ansible_host?: unknown } | null)?.ansible_host;
      if (typeof address !== 'string' || address === '') {
        throw new Error(`${file}: host ${name} has no ansible_host`);
      }
      if (!byAddress.has(address)) byAddress.set(address, name);
    }
    for (const child of Object.values(g.children ?? {})) visit(child);
  };
  visit((doc as { all?: unknown } | null)?.all);
  if (byAddress.size === 0) throw new Error(`${file}: no hosts with ansible_host found`);
  return [...byAddress].map(([address, name]) => ({ name, address }));
}

function validateSpecs(ctx: SimContext, specs: SimHostSpec[], known: SimHostSpec[]): void {
  const seen = new Map<string, string>();
  for (const h of [...known, ...specs]) {
    if (!/^[a-z0-9][a-z0-9-]{0,19}$/.test(h.name)) {
      throw new Error(`host name "${h.name}" must be 1-20 of a-z, 0-9, "-"`);
    }
    const octet = octetOf(ctx, h.address);
    if (octet === null || octet < 2 || octet > 254) {
      throw new Error(
        `host ${h.name}: address ${h.address} is not in ${ctx.subnet}.2-254 (the simulated network)`,
      );
    }
    const other = seen.get(h.name);
    if (other !== undefined && other !== h.address) {
      throw new Error(`host ${h.name} is already up at ${other}, not ${h.address}; run sim down first`);
    }
    seen.set(h.name, h.address);
  }
  const addrs = new Map<string, string>();
  for (const [name, address] of seen) {
    const prev = addrs.get(address);
    if (prev !== undefined && prev !== name) {
      throw new Error(`hosts ${prev} and ${name} both want ${address}`);
    }
    addrs.set(address, name);
  }
}

function octetOf(ctx: SimContext, address: string): number | null {
  const m = new RegExp(`^${ctx.subnet.replace(/\./g, '\\.')}\\.(\\d{1,3})$`).exec(address);
  return m ? Number(m[1]) : null;
}

const netnsOf = (ctx: SimContext, h: SimHostSpec): string => `${ctx.prefix}${h.name}`;
const vethOf = (ctx: SimContext, h: SimHostSpec): string => `${ctx.prefix}v${octetOf(ctx, h.address)}`;
const hostDir = (ctx: SimContext, name: string): string => path.join(ctx.dir, 'hosts', name);

// ---------------------------------------------------------------------------------------------
// state files

export function clusterFiles(ctx = simContext()) {
  return {
    registry: path.join(ctx.dir, 'cluster.json'),
    key: path.join(ctx.dir, 'client_key'),
    knownHosts: path.join(ctx.dir, 'known_hosts'),
    sshConfig: path.join(ctx.dir, 'ssh_config'),
    lock: path.join(ctx.dir, 'lock'),
  };
}

function readRegistry(ctx: SimContext): Registry {
  try {
    return JSON.parse(fs.readFileSync(clusterFiles(ctx).registry, 'utf8')) as Registry;
  } catch {
    return { hosts: [], mountedRunNetns: false };
  }
}

function writeRegistry(ctx: SimContext, reg: Registry): void {
  const file = clusterFiles(ctx).registry;
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(reg, null, 2));
  fs.renameSync(`${file}.tmp`, file);
}

/** Serialises sim commands on one instance (two `sim up` at once would race on the bridge). */
async function withLock<T>(ctx: SimContext, fn: () => Promise<T>): Promise<T> {
  fs.mkdirSync(ctx.dir, { recursive: true });
  const lock = clusterFiles(ctx).lock;
  for (let i = 0; ; i++) {
    try {
      fs.writeFileSync(lock, JSON.stringify(pidRecordOf(process.pid)), { flag: 'wx' });
      break;
    } catch {
      const holder = readPidFile(lock);
      if (!isRunning(holder)) {
        fs.rmSync(lock, { force: true });
        continue;
      }
      if (i > 1200) throw new Error(`sim state is locked by pid ${holder.pid} (${lock})`);
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// processes

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function ip(args: string[]): Promise<string> {
  const { stdout } = await run('ip', args);
  return stdout;
}

async function ipBatch(lines: string[], force = false): Promise<void> {
  if (lines.length === 0) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('ip', force ? ['-force', '-batch', '-'] : ['-batch', '-'], {
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 || force ? resolve() : reject(new Error(`ip -batch failed: ${err.trim()}`)),
    );
    child.stdin.end(lines.join('\n') + '\n');
  });
}

async function existingNetns(): Promise<Set<string>> {
  try {
    return new Set(fs.readdirSync('/run/netns'));
  } catch {
    return new Set();
  }
}

async function linkStates(): Promise<Map<string, 'up' | 'down'>> {
  const out = JSON.parse(await ip(['-j', 'link', 'show'])) as { ifname: string; flags: string[] }[];
  return new Map(out.map((l) => [l.ifname, l.flags.includes('UP') ? 'up' : 'down']));
}

function isMountPoint(p: string): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === p);
}

async function mapLimit<T, R>(items: T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

// ---------------------------------------------------------------------------------------------
// machine, images, keys

async function ensureMachine(ctx: SimContext): Promise<void> {
  if (!fs.existsSync('/etc/containers/containers.conf') || !fs.existsSync('/data')) {
    await run(path.join(SIM_DIR, 'setup-machine.sh'));
  }
  fs.mkdirSync(ctx.dir, { recursive: true });
}

/** Builds (or finds cached) the engine and proxy images in the shared read-only store. */
export async function ensureImages(ctx = simContext()): Promise<string> {
  const { stdout } = await run(path.join(SIM_DIR, 'build-images.sh'), [ctx.root], {
    env: {
      ...process.env,
      PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`,
      OMNI_SIM_IMAGE_STORE: IMAGE_STORE,
    },
  });
  return stdout.trim();
}

async function ensureClientKey(ctx: SimContext): Promise<void> {
  const key = clusterFiles(ctx).key;
  if (!fs.existsSync(key)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'omni-deploy-sim', '-f', key]);
  }
}

// ---------------------------------------------------------------------------------------------
// a host's disk

const SSHD_CONFIG = `# sshd of a simulated host (omni-deploy sim)
ListenAddress 0.0.0.0:22
HostKey /etc/ssh/ssh_host_ed25519_key
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
AuthorizedKeysFile .ssh/authorized_keys
# the post-quantum default KEX costs ~140 ms of CPU per connection on this 2-core machine
KexAlgorithms curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,diffie-hellman-group14-sha256
# a deploy opens many sessions at once
MaxStartups 200:30:400
MaxSessions 100
SetEnv PATH=${BIN_PATH}
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
`;

async function prepareDisk(
  ctx: SimContext,
  h: SimHostSpec,
  all: SimHostSpec[],
  devices: number,
): Promise<void> {
  const d = path.join(hostDir(ctx, h.name), 'disk');
  const mk = (p: string, mode = 0o755) => {
    fs.mkdirSync(path.join(d, p), { recursive: true });
    fs.chmodSync(path.join(d, p), mode);
  };
  const write = (p: string, text: string, mode = 0o644) => {
    fs.mkdirSync(path.dirname(path.join(d, p)), { recursive: true });
    fs.writeFileSync(path.join(d, p), text, { mode });
    fs.chmodSync(path.join(d, p), mode);
  };
  const fresh = !fs.existsSync(d);
  for (const p of ['etc', 'usr', '.work/etc', '.work/usr', 'ssh', 'var-lib-containers']) mk(p);
  for (const p of ['var-log', 'srv', 'data']) mk(p);
  mk('root', 0o700);
  mk('root/.ssh', 0o700);
  mk('tmp', 0o1777);
  const pub = fs.readFileSync(`${clusterFiles(ctx).key}.pub`, 'utf8');
  write('root/.ssh/authorized_keys', pub, 0o600);
  // bash reads .bashrc for ssh commands: a clean one (the machine's runs pyenv, +110 ms each).
  write('root/.bashrc', `export PATH=${BIN_PATH}\n`);
  if (!fs.existsSync(path.join(d, 'ssh/ssh_host_ed25519_key'))) {
    await run('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `root@${h.name}`,
      '-f',
      path.join(d, 'ssh/ssh_host_ed25519_key'),
    ]);
  }
  write('ssh/sshd_config', SSHD_CONFIG);
  // /etc overlay (upper layer): identity, container settings, NPU files.
  write('etc/hostname', `${h.name}\n`);
  write(
    'etc/hosts',
    ['127.0.0.1\tlocalhost', `${h.address}\t${h.name}`]
      .concat(all.filter((o) => o.name !== h.name).map((o) => `${o.address}\t${o.name}`))
      .join('\n') + '\n',
  );
  write(
    'etc/containers/storage.conf',
    `# a host's own images and containers, plus the cluster's shared read-only image store
[storage]
driver = "overlay"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
[storage.options]
additionalimagestores = ["${IMAGE_STORE}"]
`,
  );
  write('etc/containers/nodocker', '');
  mk('etc/containers/networks');
  if (fresh || !fs.existsSync(path.join(d, 'etc/hccn.conf'))) {
    write('etc/hccn.conf', defaultDeviceTable(octetOf(ctx, h.address)!, devices));
  }
  write(
    'etc/ascend_install.info',
    'UserName=HwHiAiUser\nUserGroup=HwHiAiUser\nDriver_Install_Type=full\nDriver_Install_Path_Param=/usr/local/Ascend\nDriver_Install_For_All=no\n',
  );
  // /usr overlay: the NPU tools are the one engine-simulator binary under their real names.
  const sim = path.join(ctx.root, 'bin', 'omni-sim');
  for (const [p, mode] of [
    ['usr/bin/hccn_tool', 0o755],
    ['usr/local/bin/npu-smi', 0o755],
  ] as const) {
    const target = path.join(d, p);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.rmSync(target, { force: true });
    try {
      fs.linkSync(sim, target); // one copy on disk for 128 hosts
    } catch {
      fs.copyFileSync(sim, target);
    }
    fs.chmodSync(target, mode);
  }
  // `docker` is podman with Docker's behaviour where deploys rely on it (sim/host-docker.sh).
  write('usr/local/bin/docker', fs.readFileSync(path.join(SIM_DIR, 'host-docker.sh'), 'utf8'), 0o755);
  write('usr/local/Ascend/driver/version.info', 'Version=24.1.0\nascendhal_version=7.35.23\n');
  mk('usr/local/Ascend/driver/lib64');
  mk('usr/local/Ascend/driver/tools');
  write('usr/local/dcmi/dcmi_interface_api.h', '/* simulated DCMI (omni-deploy sim) */\n');
  mk('usr/local/sbin');
  write(
    `data${SIM_MODEL_PATH.slice('/data'.length)}/config.json`,
    JSON.stringify(
      {
        architectures: ['DeepseekV3ForCausalLM'],
        model_type: 'deepseek_v3',
        hidden_size: 7168,
        num_hidden_layers: 61,
        max_position_embeddings: 163840,
        torch_dtype: 'bfloat16',
        omni_sim: 'placeholder weights: the engine simulator reads only this file',
      },
      null,
      2,
    ) + '\n',
  );
  mk('data/omni-sim');
}

// ---------------------------------------------------------------------------------------------
// lifecycle

async function startHost(ctx: SimContext, h: SimHostSpec): Promise<void> {
  const dir = hostDir(ctx, h.name);
  const log = fs.openSync(path.join(dir, 'init.log'), 'a');
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
      path.join(SIM_DIR, 'host-init.sh'),
      path.join(dir, 'disk'),
      h.name,
      h.address,
      '24',
    ],
    { detached: true, stdio: ['ignore', log, log] },
  );
  fs.closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`host ${h.name}: could not start nsenter`);
  // nsenter without --pid execs unshare in place, so this is unshare's PID; its one child is
  // the host's PID 1 (bash running host-init.sh, then sshd).
  writePidFile(path.join(dir, 'unshare.pid'), pid);
  for (let i = 0; i < 400; i++) {
    let children = '';
    try {
      children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    } catch {
      /* not yet, or died */
    }
    const initPid = Number(children.split(' ')[0]);
    if (initPid > 0) {
      writePidFile(path.join(dir, 'init.pid'), initPid);
      return;
    }
    if (!isAlive(pid)) break;
    await sleep(10);
  }
  throw new Error(`host ${h.name} did not start: ${tail(path.join(dir, 'init.log'))}`);
}

function tail(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitSshd(ctx: SimContext, h: SimHostSpec, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const init = readPidFile(path.join(hostDir(ctx, h.name), 'init.pid'));
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
      throw new Error(`host ${h.name}: sshd died: ${tail(path.join(hostDir(ctx, h.name), 'init.log'))}`);
    }
    await sleep(30);
  }
  throw new Error(`host ${h.name}: sshd did not answer on ${h.address}:22 within ${timeoutMs} ms`);
}

/** Stops a host's processes (kernel kills its whole PID namespace) and removes its netns/link. */
async function stopHost(ctx: SimContext, h: SimHostSpec): Promise<void> {
  const dir = hostDir(ctx, h.name);
  const init = readPidFile(path.join(dir, 'init.pid'));
  const unshare = readPidFile(path.join(dir, 'unshare.pid'));
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
  fs.rmSync(path.join(dir, 'init.pid'), { force: true });
  fs.rmSync(path.join(dir, 'unshare.pid'), { force: true });
  await ipBatch([`link del ${vethOf(ctx, h)}`, `netns del ${netnsOf(ctx, h)}`], true);
}

function hostStatus(ctx: SimContext, h: SimHostSpec, links: Map<string, 'up' | 'down'>): SimHostStatus {
  const dir = hostDir(ctx, h.name);
  const init = readPidFile(path.join(dir, 'init.pid'));
  const alive = isRunning(init);
  const off = fs.existsSync(path.join(dir, 'off'));
  return {
    ...h,
    netns: netnsOf(ctx, h),
    veth: vethOf(ctx, h),
    state: alive ? 'running' : off ? 'off' : 'dead',
    link: links.get(vethOf(ctx, h)) ?? 'absent',
    pid: alive ? init.pid : null,
  };
}

function writeClientFiles(ctx: SimContext, hosts: SimHostSpec[]): void {
  const f = clusterFiles(ctx);
  const lines = hosts.map((h) => {
    const pub = fs
      .readFileSync(path.join(hostDir(ctx, h.name), 'disk/ssh/ssh_host_ed25519_key.pub'), 'utf8')
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

async function ensureBridge(ctx: SimContext, reg: Registry): Promise<void> {
  const links = await linkStates();
  if (!links.has(ctx.bridge)) {
    // A fixed MAC: by default a bridge takes the lowest MAC of its ports and changes it as hosts
    // come and go, leaving stale neighbour entries behind in the hosts.
    const mac = `02:6f:6d:64:${ctx.instance.toString(16).padStart(2, '0')}:01`;
    await ipBatch([
      `link add name ${ctx.bridge} address ${mac} type bridge`,
      `addr add ${ctx.subnet}.1/24 dev ${ctx.bridge}`,
      `link set ${ctx.bridge} up`,
    ]);
  }
  if (!fs.existsSync('/run/netns') || !isMountPoint('/run/netns')) reg.mountedRunNetns = true;
}

function describe(ctx: SimContext, reg: Registry, links: Map<string, 'up' | 'down'>): SimCluster {
  const f = clusterFiles(ctx);
  return {
    instance: ctx.instance,
    stateDir: ctx.dir,
    keyPath: f.key,
    knownHostsPath: f.knownHosts,
    sshConfigPath: f.sshConfig,
    images: { engine: ENGINE_IMAGE, proxy: PROXY_IMAGE },
    modelPath: SIM_MODEL_PATH,
    hosts: reg.hosts.map((h) => hostStatus(ctx, h, links)),
  };
}

/**
 * Brings the given hosts up (idempotent: running hosts are left alone, powered-off or dead ones
 * are started again with their disks). Returns every host of the cluster.
 */
export async function simUp(specs: SimHostSpec[], opts: UpOptions = {}): Promise<SimCluster> {
  const ctx = opts.ctx ?? simContext();
  const log = opts.log ?? (() => {});
  return withLock(ctx, async () => {
    const reg = readRegistry(ctx);
    validateSpecs(ctx, specs, reg.hosts);
    await ensureMachine(ctx);
    const t0 = Date.now();
    log(await ensureImages(ctx));
    log(`images ready in ${Date.now() - t0} ms`);
    await ensureClientKey(ctx);
    await ensureBridge(ctx, reg);
    for (const h of specs) if (!reg.hosts.some((k) => k.name === h.name)) reg.hosts.push(h);
    writeRegistry(ctx, reg);

    const links = await linkStates();
    const todo = specs.filter((h) => hostStatus(ctx, h, links).state !== 'running');
    const netns = await existingNetns();
    // Leftovers of a host that died on its own: its namespace and link go before it is rebuilt.
    await ipBatch(
      todo.flatMap((h) => [
        ...(links.has(vethOf(ctx, h)) ? [`link del ${vethOf(ctx, h)}`] : []),
        ...(netns.has(netnsOf(ctx, h)) ? [`netns del ${netnsOf(ctx, h)}`] : []),
      ]),
      true,
    );
    await mapLimit(todo, 8, (h) => prepareDisk(ctx, h, reg.hosts, opts.devices ?? 16));
    await ipBatch(
      todo.flatMap((h) => [
        `netns add ${netnsOf(ctx, h)}`,
        `link add ${vethOf(ctx, h)} type veth peer name eth0 netns ${netnsOf(ctx, h)}`,
        `link set ${vethOf(ctx, h)} master ${ctx.bridge}`,
        `link set ${vethOf(ctx, h)} up`,
      ]),
    );
    // A rebuilt host has a new MAC: forget what the machine cached for its address.
    await ipBatch(
      todo.map((h) => `neigh flush to ${h.address} dev ${ctx.bridge}`),
      true,
    );
    await mapLimit(todo, 16, async (h) => {
      fs.rmSync(path.join(hostDir(ctx, h.name), 'off'), { force: true });
      await startHost(ctx, h);
    });
    await mapLimit(todo, 32, (h) => waitSshd(ctx, h));
    writeClientFiles(ctx, reg.hosts);
    log(`${todo.length} host(s) started, ${specs.length - todo.length} already running`);
    return describe(ctx, reg, await linkStates());
  });
}

export async function simStatus(ctx = simContext()): Promise<SimCluster> {
  return describe(ctx, readRegistry(ctx), await linkStates());
}

/**
 * Removes everything `simUp` made: host processes (by recorded PID), namespaces and links with
 * this instance's prefix, the bridge, the hosts' disks, /run/netns if we mounted it.
 */
export async function simDown(ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    const reg = readRegistry(ctx);
    await mapLimit(reg.hosts, 16, (h) => stopHost(ctx, h));
    // Namespaces left from a lost registry: their processes are ours by construction.
    const stray = [...(await existingNetns())].filter((n) => n.startsWith(ctx.prefix));
    for (const n of stray) await killNetnsProcesses(`/run/netns/${n}`);
    const links = await linkStates();
    await ipBatch(
      [
        ...stray.map((n) => `netns del ${n}`),
        ...[...links.keys()]
          .filter((l) => l.startsWith(ctx.prefix) && l !== ctx.bridge)
          .map((l) => `link del ${l}`),
        ...(links.has(ctx.bridge) ? [`link del ${ctx.bridge}`] : []),
      ],
      true,
    );
    if (reg.mountedRunNetns && (await existingNetns()).size === 0 && isMountPoint('/run/netns')) {
      await run('umount', ['/run/netns']).catch(() => {});
      fs.rmSync('/run/netns', { recursive: true, force: true });
    }
    fs.rmSync(path.join(ctx.dir, 'hosts'), { recursive: true, force: true });
    const f = clusterFiles(ctx);
    for (const p of [f.registry, f.knownHosts, f.sshConfig]) fs.rmSync(p, { force: true });
  });
}

async function killNetnsProcesses(nsPath: string): Promise<void> {
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

function findHost(ctx: SimContext, reg: Registry, nameOrAddress: string): SimHostSpec {
  const h = reg.hosts.find((x) => x.name === nameOrAddress || x.address === nameOrAddress);
  if (!h) {
    const known = reg.hosts.map((x) => `${x.name} (${x.address})`).join(', ') || 'none';
    throw new Error(`no simulated host "${nameOrAddress}" in instance ${ctx.instance}; hosts: ${known}`);
  }
  return h;
}

/** Power off: every process of the host dies and its address disappears; the disk stays. */
export async function powerOffHost(nameOrAddress: string, ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
    await stopHost(ctx, h);
    fs.writeFileSync(path.join(hostDir(ctx, h.name), 'off'), '');
  });
}

/** Reboot = power off + power on with the same disk (also powers on a host that is off). */
export async function rebootHost(nameOrAddress: string, ctx = simContext()): Promise<SimCluster> {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  await withLock(ctx, () => stopHost(ctx, h));
  return simUp([h], { ctx });
}

/** Cable pulled / plugged back: the host keeps running, its traffic stops or resumes. */
export async function setLink(nameOrAddress: string, up: boolean, ctx = simContext()): Promise<void> {
  await withLock(ctx, async () => {
    const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
    await ip(['link', 'set', vethOf(ctx, h), up ? 'up' : 'down']);
  });
}

/** Runs a command inside a running host's namespaces, as its root would (for tests and debugging). */
export async function hostExec(
  nameOrAddress: string,
  argv: string[],
  input?: string,
  ctx = simContext(),
): Promise<string> {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  const init = readPidFile(path.join(hostDir(ctx, h.name), 'init.pid'));
  if (!isRunning(init)) throw new Error(`host ${h.name} is not running`);
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
    child.stdin.end(input ?? '');
  });
}

/** Replaces a host's NPU device table (/etc/hccn.conf, what hccn_tool and npu-smi answer from). */
export async function setDeviceTable(
  nameOrAddress: string,
  table: string,
  ctx = simContext(),
): Promise<void> {
  await hostExec(nameOrAddress, ['/bin/sh', '-c', 'cat > /etc/hccn.conf'], table, ctx);
}

/** Writes a host's engine knob file (/data/omni-sim/engine.env; see sim/README.md). */
export function setEngineKnobs(
  nameOrAddress: string,
  knobs: Record<string, string | number>,
  ctx = simContext(),
): void {
  const h = findHost(ctx, readRegistry(ctx), nameOrAddress);
  const file = path.join(hostDir(ctx, h.name), 'disk/data/omni-sim/engine.env');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const text = Object.entries(knobs)
    .map(([k, v]) => `${k}=${v}\n`)
    .join('');
  fs.writeFileSync(file, text);
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
