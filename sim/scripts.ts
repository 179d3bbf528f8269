import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * The sim's shell scripts (host-init.sh, host-docker.sh, build-images.sh, setup-machine.sh) live
 * in sim/ only: the compiled sim (dist/sim) finds them there too.
 */
const SIM_DIR = fs.existsSync(path.join(__dirname, 'host-init.sh'))
  ? __dirname
  : path.join(__dirname, '..', '..', 'sim');

export function simScript(name: string): string {
  return path.join(SIM_DIR, name);
}
