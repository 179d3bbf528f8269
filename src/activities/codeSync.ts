import * as fs from 'node:fs';
import { readFile, removeFiles } from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { copyToHost } from './relay';
import { withHeartbeat } from './heartbeat';
import { TIMEOUTS } from './timeouts';
import type { SyncCodeInput, SyncCodeResult } from './types';

/**
 * Written after a successful install, holding the ID of the container it was installed into: the
 * install lives inside the container, so a container created anew (a host that lost it) is owed
 * the install again even though the code did not change.
 */
const INSTALLED_MARKER = '.omni-deploy-installed';

/**
 * Push the executor's code folder to the host (rsync: only changed bytes move) — or have a host
 * that has it already send it on (input.relay) — then run the in-container install step, only
 * when something changed or a previous install did not finish. Runs on the executor's task
 * queue: the source (or the relay session's key) is on that machine's disk.
 */
export async function syncCode(deps: ActivityDeps, input: SyncCodeInput): Promise<SyncCodeResult> {
  const { remote } = deps;
  return classified(() =>
    withHeartbeat(async (signal, progress) => {
      // A relay copy needs no local tree; the executor's session key is what it reads here.
      if (!input.relay && !fs.existsSync(input.localPath)) {
        throw fail(
          'ConfigError',
          `code folder ${input.localPath} does not exist on this executor (LOCAL_CODE_PATH/omniinfer)`,
        );
      }
      const host = input.target;
      const onOutput = (line: string) => progress({ rsync: line });
      const started = Date.now();
      const sync = await copyToHost(
        deps,
        {
          target: host,
          localDir: input.localPath,
          remoteDir: input.remotePath,
          exclude: [INSTALLED_MARKER],
          relay: input.relay,
        },
        signal,
        onOutput,
      );
      const copied = Date.now();
      const changed = sync.filesTransferred > 0;
      const marker = `${input.remotePath}/${INSTALLED_MARKER}`;
      let installed = false;
      if (input.install) {
        const cli = remote.containers(host, input.install.cli);
        const container = (await cli.inspect(input.install.container))?.id ?? '';
        const recorded = await remote.exec(host, readFile(marker), {
          check: false,
          signal,
          timeoutMs: TIMEOUTS.quickCommand,
        });
        if (changed || recorded.code !== 0 || recorded.stdout.trim() !== container) {
          await remote.exec(host, removeFiles([marker]), { signal, timeoutMs: TIMEOUTS.quickCommand });
          // The operator's own shell command (code_install_command), run as a shell command on purpose.
          const r = await cli.exec(input.install.container, ['bash', '-c', input.install.command], {
            signal,
            timeoutMs: TIMEOUTS.codeInstall,
            onOutput: (line) => progress({ install: line }),
          });
          if (r.code !== 0) {
            throw fail(
              'InstallFailed',
              `install step in ${input.install.container} on ${host.name} exited ${r.code}: ${tail(r.stderr || r.stdout)}`,
            );
          }
          await remote.writeFileAtomic(host, marker, `${container}\n`);
          installed = true;
        }
      }
      return {
        changed,
        bytesSent: sync.bytesSent,
        installed,
        copyMs: copied - started,
        installMs: Date.now() - copied,
      };
    }),
  );
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join(' | ');
}
