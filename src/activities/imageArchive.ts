import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { copyToHost } from './relay';
import { TIMEOUTS } from './timeouts';
import type {
  CopyImageArchiveInput,
  CopyImageArchiveResult,
  LoadImagesInput,
  LoadImagesResult,
} from './types';

/**
 * An image archive (`docker save`, the inventory's image_archive) to one host, for hosts that
 * cannot reach a registry: from the executor, or from a host that has it (the fan-out of
 * sync_code, issue 16). rsync: a host that has the same archive already receives nothing.
 */
export async function copyImageArchive(
  deps: ActivityDeps,
  input: CopyImageArchiveInput,
): Promise<CopyImageArchiveResult> {
  return classified(() =>
    withHeartbeat(async (signal, progress) => {
      const file = path.basename(input.localFile);
      const started = Date.now();
      const onOutput = (line: string) => progress({ rsync: line });
      if (!input.relay && !fs.existsSync(input.localFile)) {
        throw fail(
          'ConfigError',
          `image archive ${input.localFile} does not exist on this executor (image_archive)`,
        );
      }
      const sync = await copyToHost(
        deps,
        {
          target: input.target,
          localDir: path.dirname(input.localFile),
          remoteDir: input.remoteDir,
          exclude: [],
          file,
          relay: input.relay,
        },
        signal,
        onOutput,
      );
      return { changed: sync.filesTransferred > 0, bytesSent: sync.bytesSent, copyMs: Date.now() - started };
    }),
  );
}

/** `docker load` of the archive on the host when one of its images is missing; then all must be there. */
export async function loadImages(
  { remote }: ActivityDeps,
  input: LoadImagesInput,
): Promise<LoadImagesResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const cli = remote.containers(input.target, input.cli);
      const missing = async () => {
        const out: string[] = [];
        for (const image of input.images) if (!(await cli.imagePresent(image))) out.push(image);
        return out;
      };
      if ((await missing()).length === 0) return { loaded: false };
      await cli.load(input.archive, { signal, timeoutMs: TIMEOUTS.imagePull });
      const still = await missing();
      if (still.length > 0) {
        throw fail(
          'ImageMissing',
          `${still.join(', ')} not in the image archive ${input.archive} on ${input.target.name} (docker load ran)`,
        );
      }
      return { loaded: true };
    }),
  );
}
