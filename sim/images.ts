/**
 * The images every simulated host runs, built offline from this machine's binaries by
 * sim/build-images.sh into one read-only store that all hosts' podman read. Each image is tagged
 * by its content, so checkouts side by side on one machine never run each other's simulator; a
 * rebuild with nothing changed costs milliseconds.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { simScript } from './scripts';
import { simContext, type SimContext } from './hosts';

const run = promisify(execFile);

/** The newest build on this machine, whichever checkout made it: for inventories written by hand. */
export const LATEST_IMAGES: SimImages = {
  engine: 'localhost/omni-sim-engine:latest',
  proxy: 'localhost/omni-sim-proxy:latest',
};
/**
 * The read-only image store every host's podman reads. A fixed machine path, not under the
 * checkout: hosts see their own private /tmp (and /root, /data…), so a store inside a checkout
 * that lives there would be invisible to them. Content-tagged, so checkouts can share it.
 */
export const IMAGE_STORE = process.env.OMNI_SIM_IMAGE_STORE ?? '/var/lib/omni-deploy-sim/images';

export interface SimImages {
  engine: string;
  proxy: string;
}

const imagesFile = (ctx: SimContext) => path.join(ctx.root, 'images.env');

/** Builds (or finds cached) this checkout's engine and proxy images; says which and how. */
export async function ensureImages(ctx = simContext()): Promise<{ images: SimImages; summary: string }> {
  const { stdout } = await run(simScript('build-images.sh'), [ctx.root], {
    env: {
      ...process.env,
      PATH: `${process.env.PATH ?? ''}:/usr/local/go/bin`,
      OMNI_SIM_IMAGE_STORE: IMAGE_STORE,
    },
  });
  return { images: simImages(ctx), summary: stdout.trim() };
}

/**
 * This checkout's images by their content tags, as its last `ensureImages` (every `sim up`)
 * built them; the `:latest` names before any build.
 */
export function simImages(ctx = simContext()): SimImages {
  let text: string;
  try {
    text = fs.readFileSync(imagesFile(ctx), 'utf8');
  } catch {
    return LATEST_IMAGES;
  }
  const value = (key: string) => new RegExp(`^${key}=(\\S+)$`, 'm').exec(text)?.[1];
  return {
    engine: value('ENGINE_IMAGE') ?? LATEST_IMAGES.engine,
    proxy: value('PROXY_IMAGE') ?? LATEST_IMAGES.proxy,
  };
}

/**
 * An inventory's text with the simulated images' `:latest` names replaced by this checkout's
 * content tags (what a test or benchmark deploys).
 */
export function withSimImages(inventoryText: string, images: SimImages): string {
  return inventoryText
    .replaceAll(LATEST_IMAGES.engine, images.engine)
    .replaceAll(LATEST_IMAGES.proxy, images.proxy);
}
