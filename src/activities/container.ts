import { SPEC_HASH_LABEL } from '../plan/dockerRun';
import { makeFolders } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { TIMEOUTS } from './timeouts';
import type { ContainerInput, ContainerResult } from './types';

/**
 * Ensure the host's container runs with exactly this spec: kept when a running container carries
 * the same spec hash (so a retry after a partial success, or a second deploy, changes nothing),
 * otherwise replaced. Pulls the image when it is missing.
 */
export async function ensureContainer(
  { remote }: ActivityDeps,
  input: ContainerInput,
): Promise<ContainerResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const cli = remote.containers(host, input.cli);
      const current = await cli.inspect(input.name);
      const sameSpec = current?.labels[SPEC_HASH_LABEL] === input.specHash;
      if (current?.running && sameSpec) return { action: 'kept', id: current.id };
      if (current && sameSpec) {
        // Stopped with the spec we want (a rebooted host): starting it keeps what was installed
        // inside it; recreating would lose that. If it cannot start, it is replaced below.
        const started = await cli.start(input.name, { signal, timeoutMs: 2 * 60_000 }).then(
          () => true,
          () => false,
        );
        if (started && (await cli.inspect(input.name))?.running) return { action: 'started', id: current.id };
      }
      if (!(await cli.imagePresent(input.image))) {
        await cli.pull(input.image, { signal, timeoutMs: TIMEOUTS.imagePull }).catch((e: Error) => {
          throw fail(
            'ImageMissing',
            `image ${input.image} is not on ${host.name} and cannot be pulled: ${e.message}`,
          );
        });
      }
      if (input.keepDirs.length > 0) {
        await remote.exec(host, makeFolders(input.keepDirs), { signal, timeoutMs: TIMEOUTS.makeFolders });
      }
      const files = new HostFiles(remote, host, input.owner, signal);
      for (const root of input.ownedDirs) await files.claimDirs(root, [root]);
      if (current) await cli.remove(input.name);
      const id = await cli.run(input.runArgs, { signal, timeoutMs: TIMEOUTS.containerRun });
      return { action: current ? 'replaced' : 'created', id };
    }),
  );
}
