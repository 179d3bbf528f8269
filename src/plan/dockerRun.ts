import { fnv1a } from './hash';
import type { ContainerSpec } from './types';

export const SPEC_HASH_LABEL = 'omni-deploy.spec-hash';

function argvWithoutHash(spec: ContainerSpec): string[] {
  return [
    spec.cli,
    'run',
    // -it keeps the bash entrypoint alive in the background (-d), as the seed runs it.
    '-it',
    '-d',
    '--name',
    spec.name,
    ...Object.entries(spec.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
    ...spec.flags,
    ...spec.devices.map((d) => `--device=${d}`),
    ...Object.entries(spec.env).flatMap(([k, v]) => ['-e', `${k}=${v}`]),
    ...spec.mounts.flatMap((m) => ['-v', `${m.host}:${m.container}${m.readOnly ? ':ro' : ''}`]),
    spec.image,
  ];
}

/**
 * Identifies a container's configuration: a running container whose label differs from the
 * plan's was created from another spec and must be replaced; an equal one can be kept.
 */
export function containerSpecHash(spec: ContainerSpec): string {
  return fnv1a(JSON.stringify(argvWithoutHash(spec)));
}

/**
 * The full `docker run` (or `podman run`) command, binary first, as an argv array: quoted by the
 * remote layer, never joined into a shell string here.
 */
export function dockerRunArgv(spec: ContainerSpec): string[] {
  const argv = argvWithoutHash(spec);
  const image = argv.pop()!;
  return [...argv, '--label', `${SPEC_HASH_LABEL}=${containerSpecHash(spec)}`, image];
}
