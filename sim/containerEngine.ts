/**
 * Which container engine a simulated cluster's hosts run as `docker`:
 * - `podman` (the default): podman behind podman-docker's name, daemonless, every host reading
 *   the images from one shared read-only store (sim/images.ts);
 * - `docker`: Debian's dockerd 20.10 started in each host (sim/host-init.sh), the real Docker CLI
 *   as `docker`, the simulated images loaded into each host's own daemon — what production hosts
 *   run. Its binaries are extracted, not installed, by sim/docker-binaries.sh (scripts/setup.sh).
 * Chosen per cluster at its first `sim up` (`--engine`, or OMNI_SIM_ENGINE) and kept until
 * `sim down`.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { shellJoin } from '../src/shared/shellQuote';
import { IMAGE_STORE, LATEST_IMAGES, type SimImages } from './images';
import { simScript } from './scripts';

const run = promisify(execFile);

export const SIM_ENGINES = ['podman', 'docker'] as const;
export type SimEngine = (typeof SIM_ENGINES)[number];

/** Where sim/docker-binaries.sh extracts docker.io, containerd and tini (every host sees it). */
export const DOCKER_ROOT = path.join(
  process.env.OMNI_SIM_DOCKER_ROOT ?? '/var/lib/omni-deploy-sim/docker',
  'root',
);

/** Image archives for `docker load` (docker-archive format), one per content-tagged image. */
const ARCHIVES = path.join(path.dirname(IMAGE_STORE), 'archives');

export function parseSimEngine(value: string | undefined, from: string): SimEngine {
  if (value === undefined || value === '') return 'podman';
  if ((SIM_ENGINES as readonly string[]).includes(value)) return value as SimEngine;
  throw new Error(`${from} must be one of ${SIM_ENGINES.join(', ')}, got "${value}"`);
}

/** The engine a new cluster gets when `sim up` is not told: OMNI_SIM_ENGINE, else podman. */
export function defaultSimEngine(): SimEngine {
  return parseSimEngine(process.env.OMNI_SIM_ENGINE, 'OMNI_SIM_ENGINE');
}

/** Fails with what to run when the Docker engine's binaries are not on the machine. */
export function requireDockerBinaries(): void {
  const missing = ['usr/sbin/dockerd', 'usr/bin/docker', 'usr/bin/containerd', 'usr/bin/tini-static'].filter(
    (f) => !fs.existsSync(path.join(DOCKER_ROOT, f)),
  );
  if (missing.length > 0) {
    throw new Error(
      `the Docker engine for simulated hosts is missing (${missing.join(', ')} under ${DOCKER_ROOT}); ` +
        `run ${simScript('docker-binaries.sh')} (scripts/setup.sh does)`,
    );
  }
}

const archiveOf = (image: string) => path.join(ARCHIVES, `${image.replace(/[^A-Za-z0-9_.-]/g, '_')}.tar`);

/** One of the simulated images, as a docker host gets it. */
export interface DockerImage {
  /** The content-tagged name inventories of this checkout use. */
  image: string;
  archive: string;
  /** `:latest`, for inventories written by hand (the shipped sim ones): as in the podman store. */
  latest: string;
}

/**
 * A `docker save` archive of each image, made once from the shared store (the tags name contents,
 * so an archive never goes stale).
 */
export async function dockerArchives(images: SimImages): Promise<DockerImage[]> {
  fs.mkdirSync(ARCHIVES, { recursive: true });
  const out: DockerImage[] = [];
  for (const [image, latest] of [
    [images.engine, LATEST_IMAGES.engine],
    [images.proxy, LATEST_IMAGES.proxy],
  ] as const) {
    const archive = archiveOf(image);
    if (!fs.existsSync(archive)) {
      const partial = `${archive}.${process.pid}.partial`;
      await run('podman', [
        '--root',
        IMAGE_STORE,
        '--runroot',
        '/run/containers/storage',
        '--storage-driver',
        'overlay',
        'save',
        '--format',
        'docker-archive',
        '--output',
        partial,
        image,
      ]);
      fs.renameSync(partial, archive);
    }
    out.push({ image, archive, latest });
  }
  return out;
}

/**
 * Run inside a docker host once its sshd answers: waits for its dockerd, loads each image it does
 * not have yet (a rebooted host keeps its images on its disk) and tags it `:latest`.
 */
export function loadImagesScript(images: DockerImage[]): string {
  const loads = images
    .map(
      ({ image, archive, latest }) =>
        `${shellJoin(['docker', 'image', 'inspect', image])} >/dev/null 2>&1 || ${shellJoin(['docker', 'load', '-q', '-i', archive])} >/dev/null\n` +
        shellJoin(['docker', 'tag', image, latest]),
    )
    .join('\n');
  return `set -e
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
unset DOCKER_HOST DOCKER_CONTEXT DOCKER_CONFIG
for i in $(seq 200); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker version >/dev/null || { echo "dockerd did not start:"; tail -20 /var/log/dockerd.log; exit 1; } >&2
${loads}
`;
}
