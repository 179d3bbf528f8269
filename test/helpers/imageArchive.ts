import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A `docker save` archive of a one-file image named `tag`, made by hand (docker-archive format:
 * manifest.json, the image config, one layer tar), so a test can `docker load` an image no host
 * has without a registry or a build.
 */
export function tinyImageArchive(file: string, tag: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-image-'));
  try {
    const content = path.join(dir, 'content');
    fs.mkdirSync(content);
    fs.writeFileSync(path.join(content, 'hello.txt'), `${tag}\n`);
    const layer = path.join(dir, 'layer.tar');
    execFileSync('tar', ['-C', content, '--owner=0', '--group=0', '--mtime=@0', '-cf', layer, 'hello.txt']);
    const layerSha = createHash('sha256').update(fs.readFileSync(layer)).digest('hex');
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] },
    });
    const configSha = createHash('sha256').update(config).digest('hex');
    const image = path.join(dir, 'image');
    fs.mkdirSync(path.join(image, layerSha), { recursive: true });
    fs.renameSync(layer, path.join(image, layerSha, 'layer.tar'));
    fs.writeFileSync(path.join(image, `${configSha}.json`), config);
    fs.writeFileSync(
      path.join(image, 'manifest.json'),
      JSON.stringify([{ Config: `${configSha}.json`, RepoTags: [tag], Layers: [`${layerSha}/layer.tar`] }]),
    );
    execFileSync('tar', ['-C', image, '-cf', file, '.']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
