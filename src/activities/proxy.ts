import { sleep } from '@temporalio/activity';
import { withHeartbeat } from './heartbeat';
import { classified, fail, remoteFor } from './remoteContext';
import type { ProxyInput, ProxyResult } from './types';

const CONFIG_HASH = 'nginx.config-hash';

/**
 * Ensure the global proxy runs the planned config: start nginx when it is not running, reload it
 * when the upstreams changed (no dropped connections), keep it otherwise; then wait for /health.
 * The config is checked with `nginx -t` before it can replace a working one.
 */
export async function ensureProxy(input: ProxyInput): Promise<ProxyResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const { remote, host } = remoteFor(input.target);
      const dirs = [input.confPath, input.njsPath].map((p) => p.replace(/\/[^/]+$/, ''));
      await remote.exec(host, ['mkdir', '-p', ...dirs, input.runDir, input.logDir], {
        signal,
        timeoutMs: 30_000,
      });
      await remote.writeFileAtomic(host, input.njsPath, input.njs);
      await remote.writeFileAtomic(host, input.confPath, input.conf);

      const cli = remote.containers(host, input.cli);
      const test = await cli.exec(input.container, input.commands.test, { signal, timeoutMs: 60_000 });
      if (test.code !== 0) {
        throw fail(
          'ProxyConfigInvalid',
          `nginx -t on ${host.name} refused the config: ${test.stderr.trim()}`,
        );
      }
      const running =
        (
          await cli.exec(
            input.container,
            ['sh', '-c', '[ -f "$1" ] && kill -0 "$(cat "$1")"', 'alive', `${input.runDir}/nginx.pid`],
            {
              signal,
              timeoutMs: 30_000,
            },
          )
        ).code === 0;
      const recorded = await remote.exec(host, ['cat', `${input.runDir}/${CONFIG_HASH}`], {
        check: false,
        signal,
      });
      let action: ProxyResult['action'] = 'kept';
      if (!running) {
        const start = await cli.exec(input.container, input.commands.start, { signal, timeoutMs: 60_000 });
        if (start.code !== 0)
          throw fail('ProxyStartFailed', `nginx did not start on ${host.name}: ${start.stderr.trim()}`);
        action = 'started';
      } else if (recorded.stdout.trim() !== input.configHash) {
        const reload = await cli.exec(input.container, input.commands.reload, { signal, timeoutMs: 60_000 });
        if (reload.code !== 0)
          throw fail('ProxyStartFailed', `nginx reload failed on ${host.name}: ${reload.stderr.trim()}`);
        action = 'reloaded';
      }
      await remote.writeFileAtomic(host, `${input.runDir}/${CONFIG_HASH}`, `${input.configHash}\n`);

      for (let i = 0; i < 60; i++) {
        const h = await remote.exec(
          host,
          ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '2', input.healthUrl],
          {
            check: false,
            signal,
          },
        );
        if (h.stdout.trim() === '200') return { action };
        await sleep(500);
      }
      throw fail('ProxyNotReady', `the proxy on ${host.name} does not answer ${input.healthUrl}`);
    }),
  );
}
