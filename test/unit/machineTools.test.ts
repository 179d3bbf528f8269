import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { POSTGRES_MAJOR } from '../../src/temporal/production/topology';

/**
 * Every external program the product, the simulated cluster and the tests run, with the Debian
 * package that brings it. A green CI once hid a missing install step: podman's `--init` needs
 * catatonit, which is only a Recommends of podman, and the CI machine had it from earlier work.
 * So each entry is checked twice: the program is on this machine (after scripts/setup.sh), and
 * its package is named in setup.sh — presence alone would pass on a machine that happens to have it.
 */
interface Tool {
  /** Absolute path (as the code or podman looks it up) or a name found on PATH. */
  program: string;
  package: string;
  usedBy: string;
}

const TOOLS: Tool[] = [
  { program: 'podman', package: 'podman', usedBy: 'container engine of the simulated hosts' },
  { program: 'docker', package: 'podman-docker', usedBy: '`docker` on the simulated hosts' },
  {
    program: 'runc',
    package: 'runc',
    usedBy: 'podman runtime (sim/setup-machine.sh selects it), and dockerd’s',
  },
  {
    program: '/lib/x86_64-linux-gnu/libdevmapper.so.1.02.1',
    package: 'libdevmapper1.02.1',
    usedBy: 'dockerd of the docker hosts (extracted by sim/docker-binaries.sh, not installed)',
  },
  {
    program: 'apt-get',
    package: 'apt',
    usedBy: 'sim/docker-binaries.sh downloads docker.io, containerd, tini',
  },
  { program: 'dpkg-deb', package: 'dpkg', usedBy: 'sim/docker-binaries.sh extracts them' },
  { program: 'conmon', package: 'conmon', usedBy: 'podman container monitor' },
  {
    program: '/usr/libexec/podman/catatonit',
    package: 'catatonit',
    usedBy: '`docker run --init` in the sim tests and bench',
  },
  {
    program: '/usr/share/containers/containers.conf',
    package: 'golang-github-containers-common',
    usedBy: "podman's defaults",
  },
  { program: '/usr/sbin/sshd', package: 'openssh-server', usedBy: 'PID 1 of every simulated host' },
  { program: 'ssh', package: 'openssh-client', usedBy: 'rsync transport, test helpers' },
  { program: 'ssh-keygen', package: 'openssh-client', usedBy: 'sim host keys, known_hosts' },
  { program: 'rsync', package: 'rsync', usedBy: 'sync_code and fetch_log' },
  { program: 'ip', package: 'iproute2', usedBy: 'sim namespaces and links, launch scripts' },
  { program: 'ss', package: 'iproute2', usedBy: 'preflight port check on hosts' },
  { program: 'nsenter', package: 'util-linux', usedBy: 'entering sim host namespaces' },
  { program: 'unshare', package: 'util-linux', usedBy: 'sim host namespaces, image build' },
  { program: 'setsid', package: 'util-linux', usedBy: 'remote process groups, engine image' },
  { program: 'flock', package: 'util-linux', usedBy: 'host manifests' },
  { program: 'ps', package: 'procps', usedBy: 'engine image' },
  { program: 'pgrep', package: 'procps', usedBy: 'engine image, tests' },
  { program: 'pkill', package: 'procps', usedBy: 'engine image' },
  { program: '/usr/bin/busybox', package: 'busybox-static', usedBy: 'base of the sim images' },
  { program: '/usr/sbin/nginx', package: 'nginx-light', usedBy: 'the global proxy (sim proxy image)' },
  { program: '/etc/nginx/mime.types', package: 'nginx-common', usedBy: 'sim proxy image' },
  {
    program: '/usr/lib/nginx/modules/ngx_http_js_module.so',
    package: 'libnginx-mod-http-js',
    usedBy: 'njs PD protocol of the proxy',
  },
  { program: 'curl', package: 'curl', usedBy: 'readiness probes and verify on hosts, engine image' },
  { program: 'chromium', package: 'chromium', usedBy: 'the Web UI browser test' },
  { program: 'docker-compose', package: 'docker-compose', usedBy: 'validating docker-compose.temporal.yml' },
  {
    program: `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin/postgres`,
    package: 'postgresql',
    usedBy: 'the production Temporal (deploy server start --backend postgres)',
  },
  {
    program: `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin/psql`,
    package: 'postgresql',
    usedBy: 'schema versions of the production Temporal',
  },
  ...['initdb', 'pg_ctl', 'pg_isready'].map((p) => ({
    program: `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin/${p}`,
    package: 'postgresql',
    usedBy: 'creating, starting, stopping and probing the PostgreSQL of the production Temporal',
  })),
  { program: 'runuser', package: 'util-linux', usedBy: 'PostgreSQL run as its own user when deploy is root' },
  { program: 'openssl', package: 'openssl', usedBy: 'deploy certs: the mTLS certificates' },
];

const SETUP = fs.readFileSync(path.join(__dirname, '..', '..', 'scripts', 'setup.sh'), 'utf8');
/** The words of setup.sh's APT_PACKAGES=( … ) list, comments dropped. */
const namedPackages = new Set(
  (/APT_PACKAGES=\(([\s\S]*?)\n\)/.exec(SETUP)?.[1] ?? '')
    .split('\n')
    .map((l) => l.replace(/#.*/, ''))
    .join(' ')
    .split(/\s+/)
    .filter(Boolean),
);

function present(program: string): boolean {
  if (program.startsWith('/')) return fs.existsSync(program);
  return spawnSync('sh', ['-c', 'command -v "$1"', 'which', program]).status === 0;
}

describe('machine tools: every program the tests and the product run is installed by setup', () => {
  it('reads the package list of scripts/setup.sh', () => {
    assert.ok(
      namedPackages.size >= 10,
      `APT_PACKAGES not found in setup.sh: ${[...namedPackages].join(' ')}`,
    );
  });

  for (const tool of TOOLS) {
    it(`${tool.program} (${tool.package})`, () => {
      assert.ok(
        namedPackages.has(tool.package),
        `scripts/setup.sh does not name ${tool.package}, which brings ${tool.program} (${tool.usedBy}): add it to APT_PACKAGES`,
      );
      assert.ok(
        present(tool.program),
        `${tool.program} (${tool.usedBy}) is missing: install Debian's ${tool.package} (scripts/setup.sh)`,
      );
    });
  }

  it('the Temporal binaries scripts/build-temporal.sh builds (setup runs it)', () => {
    assert.match(SETUP, /^scripts\/build-temporal\.sh$/m, 'setup.sh runs scripts/build-temporal.sh');
    const bin = path.join(__dirname, '..', '..', '.tools', 'bin');
    for (const b of ['temporal', 'temporal-server', 'temporal-sql-tool', 'temporal-ui-server']) {
      assert.ok(
        fs.existsSync(path.join(bin, b)),
        `${b} is missing from .tools/bin: run scripts/build-temporal.sh`,
      );
    }
  });

  it('go for the engine simulator and the Temporal CLI build', () => {
    // Not a Debian package: machines of this kind come with Go in /usr/local/go.
    assert.ok(
      present('go') || fs.existsSync('/usr/local/go/bin/go'),
      'go is missing: the engine simulator and the Temporal CLI are built with it',
    );
  });
});
