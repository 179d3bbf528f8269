import type { ContainerMount, ContainerSpec, DeploySettings, Group } from './types';

const NAME_PREFIX: Record<Group, 'DOCKER_NAME_P' | 'DOCKER_NAME_D' | 'DOCKER_NAME_C'> = {
  P: 'DOCKER_NAME_P',
  D: 'DOCKER_NAME_D',
  C: 'DOCKER_NAME_C',
};

function parseMount(text: string): ContainerMount {
  const [host, container, mode] = text.split(':');
  return { host: host!, container: container!, readOnly: mode === 'ro' };
}

const sameDir = (path: string) => `${path}:${path}`;

export interface ContainerHost {
  cluster: string;
  name: string;
  group: Group;
  role: string;
  /** The proxy's listen port, fixed at container creation as in the seed. */
  proxyPort: number | null;
}

/** The seed's container for one host (§3.1): `<DOCKER_NAME_x>_<host>` from the shared image. */
export function containerSpec(h: ContainerHost, s: DeploySettings): ContainerSpec {
  const mounts: ContainerMount[] = [];
  const seen = new Set<string>();
  // The seed also mounts its working folders at the same path; a second mount on one container
  // path would make docker refuse to start, so the first one wins.
  for (const m of [
    ...s.container_mounts,
    ...[s.LOG_PATH, s.MODEL_PATH, s.SCRIPTS_PATH, s.CODE_PATH, s.ranktable_save_path].map(sameDir),
  ].map(parseMount)) {
    if (seen.has(m.container)) continue;
    seen.add(m.container);
    mounts.push(m);
  }
  const env: Record<string, string> = {
    ...s.container_env,
    CODE_PATH: s.CODE_PATH,
    LOG_PATH: s.LOG_PATH,
    RANKTABLE_SAVE_PATH: s.ranktable_save_path,
    ...(h.proxyPort === null ? {} : { PROXY_NODE_PORT: String(h.proxyPort) }),
  };
  return {
    cli: s.container_cli,
    name: `${s[NAME_PREFIX[h.group]]}_${h.name}`,
    image: h.group === 'C' ? s.proxy_image : s.DOCKER_IMAGE_ID,
    flags: [...s.container_flags],
    devices: [...s.container_devices],
    mounts,
    env: sortKeys(env),
    labels: sortKeys({
      'omni-deploy.cluster': h.cluster,
      'omni-deploy.host': h.name,
      'omni-deploy.role': h.role,
    }),
  };
}

export function sortKeys<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
