import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A file on the worker's machine as a host names it (its key, its known_hosts): the inventory may
 * write `~/…` for the home of whoever runs the worker — resolved here, where the file is opened,
 * since a Plan is made on one machine and its steps run on others.
 */
export function workerPath(file: string): string {
  if (file === '~') return os.homedir();
  return file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
}
