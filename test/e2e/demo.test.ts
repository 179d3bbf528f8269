// runner: group=demo-defaults (both use the dev server on 127.0.0.1:7233, sim instance 0 and .state)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { simContext, simStatus } from '../../sim';
import { backgroundWorkerPid } from '../../src/client/backgroundWorker';
import { defaultDevServerOptions, probeAddress } from '../../src/temporal/devServer';
import { runDeploy } from '../helpers/cli';

/**
 * The README's first command, exactly as a newcomer runs it after set-up: `bin/deploy demo`.
 * It uses the operator's defaults (dev server on 127.0.0.1:7233, sim instance 0), so on a machine
 * where a demo is already up the test stays out of the way rather than tear it down.
 */
describe('README: bin/deploy demo', () => {
  const server = defaultDevServerOptions();
  let busy: string | undefined;

  before(async () => {
    if ((await probeAddress(server.ip, server.port)) !== 'free')
      busy = `something listens on ${server.ip}:${server.port}`;
    else if ((await simStatus(simContext(0))).hosts.length > 0) busy = 'simulated hosts of instance 0 are up';
    else if (backgroundWorkerPid() !== undefined) busy = 'a background worker runs';
  });

  after(async () => {
    if (busy) return;
    // Every step runs even when an earlier one fails or times out (a stuck cluster workflow must
    // not leave the server, the worker and the simulated hosts behind for the next test).
    await runDeploy(['down', 'sim-2p1d'], {}, 180_000).catch(() => undefined);
    await runDeploy(['worker', '--stop']).catch(() => undefined);
    await runDeploy(['sim', 'down']).catch(() => undefined);
    await runDeploy(['server', 'stop']).catch(() => undefined);
  });

  it('deploys the simulated 2P1D cluster, answers a completion through the proxy, prints the Web UI', async (t) => {
    if (busy) {
      t.skip(`a demo is already running here (${busy})`);
      return;
    }
    const r = await runDeploy(['demo'], {}, 300_000);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(
      r.stdout,
      /completion through the proxy: \[prefill 10\.231\.0\.1[12]:900[01] kv_rank [01] -> decode /,
    );
    assert.match(r.stdout, /proxy: {2}http:\/\/10\.231\.0\.11:7000\/v1\/completions/);
    const ui = r.stdout.match(
      /Web UI: (http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/cluster%2Fsim-2p1d)/,
    );
    assert.ok(ui, r.stdout);
    assert.equal((await fetch(ui[1]!)).status, 200);

    // Run again: everything up is reused, the cluster is not redeployed.
    const again = await runDeploy(['demo'], {}, 120_000);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /sim-2p1d is already deployed; reusing it/);
    assert.match(again.stdout, /reusing worker pid/);
  });
});
