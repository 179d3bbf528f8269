import { createHash } from 'node:crypto';
import { sleep } from '@temporalio/activity';
import type { Remote } from '../remote';
import {
  childPids,
  deadPids,
  httpGet,
  makeFolders,
  parseDeadPids,
  parseHttpAnswer,
  parsePids,
  pidFileAlive,
  readFile,
  runScript,
} from '../remote/commands';
import type { ActivityDeps } from './deps';
import { classified, fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { HostFiles } from './hostFiles';
import { PROXY_HEALTH_ATTEMPTS, TIMEOUTS } from './timeouts';
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
      await remote.exec(host, makeFolders([input.logDir]), { signal, timeoutMs: TIMEOUTS.makeFolders });
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
      const test = await cli.exec(input.container, input.commands.test, {
        signal,
        timeoutMs: TIMEOUTS.nginxCommand,
      });
      if (test.code !== 0) {
        throw fail(
          'ProxyConfigInvalid',
          `nginx -t on ${host.name} refused the config: ${test.stderr.trim()}`,
        );
      }
      const alive = await cli.exec(input.container, pidFileAlive(`${input.runDir}/nginx.pid`), {
        signal,
        timeoutMs: TIMEOUTS.quickCommand,
      });
      const running = alive.code === 0;
      const recorded = await readConfigHash(remote, input, signal);
      let action: ProxyResult['action'] = 'kept';
      if (!running) {
        const start = await cli.exec(input.container, input.commands.start, {
          signal,
          timeoutMs: TIMEOUTS.nginxCommand,
        });
        if (start.code !== 0)
          throw fail('ProxyStartFailed', `nginx did not start on ${host.name}: ${start.stderr.trim()}`);
        action = 'started';
      } else if (recorded !== input.configHash) {
        const pidFile = `${input.runDir}/nginx.pid`;
        const before = parsePids(
          (await cli.exec(input.container, childPids(pidFile), { signal, timeoutMs: TIMEOUTS.quickCommand }))
            .stdout,
        );
        const reload = await cli.exec(input.container, input.commands.reload, {
          signal,
          timeoutMs: TIMEOUTS.nginxCommand,
        });
        if (reload.code !== 0)
          throw fail('ProxyStartFailed', `nginx reload failed on ${host.name}: ${reload.stderr.trim()}`);
        action = 'reloaded';
        // Draining: the old workers finish the requests they hold (a drained server gets no new
        // ones from the new workers) and then exit. Waiting for that is what makes it safe to
        // restart the engines behind a drained upstream.
        if (input.awaitDrainMs !== undefined && before.length > 0) {
          const deadline = Date.now() + input.awaitDrainMs;
          for (;;) {
            const r = await cli.exec(input.container, deadPids(before), {
              signal,
              timeoutMs: TIMEOUTS.quickCommand,
            });
            if (parseDeadPids(r, before).length === before.length || Date.now() > deadline) break;
            await sleep(200);
          }
        }
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
  const recorded = await readConfigHash(remote, input, signal);
  if (recorded === hash && (await proxyAnswers(remote, input, signal)).ok) return 'kept';
  await remote.writeFileAtomic(host, seed.scriptPath, seed.script, 0o755);
  const run = await remote
    .containers(host, input.cli)
    .exec(input.container, runScript(seed.scriptPath), { signal, timeoutMs: TIMEOUTS.seedProxyScript });
  if (run.code !== 0) {
    throw fail(
      'ProxyStartFailed',
      `global_proxy.sh failed on ${host.name}: ${(run.stderr || run.stdout).trim().slice(-1500)}`,
    );
  }
  await remote.writeFileAtomic(host, `${input.runDir}/${CONFIG_HASH}`, `${hash}\n`);
  await awaitProxyHealth(remote, input, signal);
  return recorded === '' ? 'started' : 'reloaded';
}

/** The config hash recorded by the last start or reload; '' when there is none. */
async function readConfigHash(remote: Remote, input: ProxyInput, signal: AbortSignal): Promise<string> {
  const r = await remote.exec(input.target, readFile(`${input.runDir}/${CONFIG_HASH}`), {
    check: false,
    signal,
    timeoutMs: TIMEOUTS.quickCommand,
  });
  return r.code === 0 ? r.stdout.trim() : '';
}

/** What the health URL answered: its status (`000` when nothing answered) and body. */
interface HealthAnswer {
  ok: boolean;
  said: string;
}

async function proxyAnswers(remote: Remote, input: ProxyInput, signal: AbortSignal): Promise<HealthAnswer> {
  const r = await remote.exec(
    input.target,
    httpGet(input.healthUrl, { timeoutMs: TIMEOUTS.proxyHealthRequest }),
    {
      check: false,
      signal,
      timeoutMs: TIMEOUTS.proxyHealthRequest + TIMEOUTS.quickCommand,
    },
  );
  const { status, body } = parseHttpAnswer(r.stdout);
  // While the cluster heals, the proxy is reloaded with a unit drained that may be the last of
  // its role: then /health truthfully says "down" (503), and answering at all is what counts.
  const ok = status === '200' || (input.acceptDown === true && status === '503' && /"status"/.test(body));
  return {
    ok,
    said: `${status || r.stderr.trim() || 'nothing'}${body.trim() ? ` ${body.trim().slice(0, 500)}` : ''}`,
  };
}

async function awaitProxyHealth(remote: Remote, input: ProxyInput, signal: AbortSignal): Promise<void> {
  let last: HealthAnswer = { ok: false, said: 'nothing' };
  for (let i = 0; i < PROXY_HEALTH_ATTEMPTS; i++) {
    last = await proxyAnswers(remote, input, signal);
    if (last.ok) return;
    await sleep(TIMEOUTS.proxyHealthPoll);
  }
  throw fail(
    'ProxyNotReady',
    `the proxy on ${input.target.name} does not answer ${input.healthUrl} with 200 (last: ${last.said})`,
  );
}
