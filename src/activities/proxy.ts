import { createHash } from 'node:crypto';
import { sleep } from '@temporalio/activity';
import type { Remote } from '../remote';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { classified, fail } from './failures';
import type { ActivityDeps } from './deps';
import type { ProxyInput, ProxyResult } from './types';

const CONFIG_HASH = 'nginx.config-hash';

/**
 * Ensure the global proxy runs the planned config: start nginx when it is not running, reload it
 * when the upstreams changed (no dropped connections), keep it otherwise; then wait for /health.
 * The config is checked with `nginx -t` before it can replace a working one.
 */
export async function ensureProxy({ remote }: ActivityDeps, input: ProxyInput): Promise<ProxyResult> {
  return classified(() =>
    withHeartbeat(async (signal) => {
      const host = input.target;
      const dirs = [input.confPath, input.njsPath].map((p) => p.replace(/\/[^/]+$/, ''));
      await remote.exec(host, ['mkdir', '-p', input.logDir], { signal, timeoutMs: 30_000 });
      const files = new HostFiles(remote, host, input.owner, signal);
      await files.claimDirs(input.scriptsRoot, [...new Set(dirs), input.runDir, ...input.tempDirs]);
      await files.recordFiles(input.scriptsRoot, [
        input.njsPath,
        input.confPath,
        `${input.runDir}/${CONFIG_HASH}`,
        ...input.runtimeFiles,
        ...(input.seed ? [input.seed.scriptPath] : []),
      ]);
      await remote.writeFileAtomic(host, input.njsPath, input.njs);
      await remote.writeFileAtomic(host, input.confPath, input.conf);

      const cli = remote.containers(host, input.cli);
      if (input.seed) return { action: await runSeedProxy(remote, input, input.seed, signal) };
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
      await awaitProxyHealth(remote, input, signal);
      return { action };
    }),
  );
}

/**
 * Seed mode: global_proxy.sh rewrites omniinfer's nginx.conf and restarts nginx itself, so the
 * script runs when the generated script changed or the proxy does not answer.
 */
async function runSeedProxy(
  remote: Remote,
  input: ProxyInput,
  seed: NonNullable<ProxyInput['seed']>,
  signal: AbortSignal,
): Promise<ProxyResult['action']> {
  const host = input.target;
  const hash = createHash('sha256').update(seed.script).digest('hex');
  const recorded = await remote.exec(host, ['cat', `${input.runDir}/${CONFIG_HASH}`], {
    check: false,
    signal,
  });
  if (recorded.stdout.trim() === hash && (await proxyAnswers(remote, input, signal)).ok) return 'kept';
  await remote.writeFileAtomic(host, seed.scriptPath, seed.script, 0o755);
  const run = await remote
    .containers(host, input.cli)
    .exec(input.container, ['bash', seed.scriptPath], { signal, timeoutMs: 5 * 60_000 });
  if (run.code !== 0) {
    throw fail(
      'ProxyStartFailed',
      `global_proxy.sh failed on ${host.name}: ${(run.stderr || run.stdout).trim().slice(-1500)}`,
    );
  }
  await remote.writeFileAtomic(host, `${input.runDir}/${CONFIG_HASH}`, `${hash}\n`);
  await awaitProxyHealth(remote, input, signal);
  return recorded.stdout.trim() === '' ? 'started' : 'reloaded';
}

/** What the health URL answered: curl's status line (`000` when nothing answered) and body. */
interface HealthAnswer {
  ok: boolean;
  said: string;
}

/**
 * 200 from the health URL. The generated proxy's /health asks every upstream (each probe bounded
 * by 1 s to connect and 2 s to answer, all at once), hence the 5 s.
 */
async function proxyAnswers(remote: Remote, input: ProxyInput, signal: AbortSignal): Promise<HealthAnswer> {
  const host = input.target;
  const h = await remote.exec(
    host,
    ['curl', '-s', '-w', '\\n%{http_code}', '--max-time', '5', input.healthUrl],
    { check: false, signal },
  );
  const out = h.stdout.trimEnd();
  const code = out.slice(out.lastIndexOf('\n') + 1);
  const body = out.slice(0, Math.max(0, out.lastIndexOf('\n'))).trim();
  return { ok: code === '200', said: `${code}${body ? ` ${body.slice(0, 500)}` : ''}` };
}

async function awaitProxyHealth(remote: Remote, input: ProxyInput, signal: AbortSignal): Promise<void> {
  let last: HealthAnswer = { ok: false, said: 'nothing' };
  for (let i = 0; i < 60; i++) {
    last = await proxyAnswers(remote, input, signal);
    if (last.ok) return;
    await sleep(500);
  }
  throw fail(
    'ProxyNotReady',
    `the proxy on ${input.target.name} does not answer ${input.healthUrl} with 200 (last: ${last.said})`,
  );
}
