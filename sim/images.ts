/**
 * The images every simulated host runs, built offline from this machine's binaries by
 * sim/build-images.sh into one read-only store that all hosts' podman read (content-hashed, so
 * a rebuild with nothing changed costs milliseconds).
 */
import { execFile } from 'node:child_process';
import { simScript } from './scripts';
import { promisify } from 'node:util';
import { simContext } from './hosts';

const run = promisify(execFile);

export const ENGINE_IMAGE = 'localhost/omni-sim-engine:latest';
export const PROXY_IMAGE = 'localhost/omni-sim-proxy:latest';
/**
 * The read-only image store every host's podman reads. A fixed machine path, not under the
 * checkout: hosts see their own private /tmp (and /root, /data…), so a store inside a checkout
 * that lives there would be invisible to them. Content-hashed, so checkouts can share it.
 */
export const IMAGE_STORE = process.env.OMNI_SIM_IMAGE_STORE ?? '/var/lib/omni-deploy-sim/images';

/** Builds (or finds cached) the engine and proxy images in the shared read-only store. */
export async function ensureImages(ctx = simContext()): Promise<string> {
  const { stdout } = await run(simScript('build-images.sh'), [ctx.root], {
    env: {
      ...process.env,
      PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`,
      OMNI_SIM_IMAGE_STORE: IMAGE_STORE,
    },
  });
  return stdout.trim();
}
