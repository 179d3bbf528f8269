/**
 * A simulated host's disk: the folder on the machine that sim/host-init.sh mounts as the host's
 * private filesystems (/root, /tmp, /data…, and the upper layers of /etc and /usr). Everything
 * that makes the host look like an Ascend machine with Docker lives here — identity, sshd config,
 * NPU tools and device table, the `docker` wrapper, the model folder — and survives a reboot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DOCKER_ROOT, type SimEngine } from './containerEngine';
import { simScript } from './scripts';
import { defaultDeviceTable } from './devices';
import { octetOf, type SimContext, type SimHostSpec } from './hosts';
import { IMAGE_STORE } from './images';
import { ensureHostKey } from './keys';
import { clusterFiles, hostFiles } from './state';

const BIN_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Inside every host: the model folder MODEL_PATH points at in the sim inventories. */
export const SIM_MODEL_PATH = '/data/models/sim-model';

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

/** The host's engine knob file (/data/omni-sim/engine.env inside it; see sim/README.md). */
export const knobFile = (ctx: SimContext, name: string): string =>
  path.join(hostFiles(ctx, name).disk, 'data/omni-sim/engine.env');

/**
 * Creates or refreshes a host's disk. Keeps what a host changes and must keep across a reboot:
 * its host key, its device table, /var/lib/containers, /data, /root's other files.
 */
export async function prepareDisk(
  ctx: SimContext,
  h: SimHostSpec,
  all: SimHostSpec[],
  devices: number,
  engine: SimEngine,
): Promise<void> {
  const d = hostFiles(ctx, h.name).disk;
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
  await ensureHostKey(ctx, h);
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
  // `docker` is podman with Docker's behaviour where deploys rely on it (sim/host-docker.sh), or
  // on a docker host the real Docker CLI talking to the host's dockerd (sim/containerEngine.ts).
  const docker = path.join(d, 'usr/local/bin/docker');
  fs.rmSync(docker, { force: true });
  if (engine === 'docker') {
    fs.symlinkSync(path.join(DOCKER_ROOT, 'usr/bin/docker'), docker);
    write('usr/local/sbin/omni-runc', fs.readFileSync(simScript('host-runc.sh'), 'utf8'), 0o755);
  } else {
    write('usr/local/bin/docker', fs.readFileSync(simScript('host-docker.sh'), 'utf8'), 0o755);
  }
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
