import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { planFromFile } from '../../src/client/planFile';
import { fetchLogsInput, logSources } from '../../src/workflows/logSources';
import { seedPlan } from '../helpers/plans';

describe('log sources of a plan', () => {
  it('fetches every machine once, named after its first host, into LOG_PATH_IN_EXECUTOR/<host>', () => {
    const plan = seedPlan('2P1D', { LOG_PATH: '/data/logs', LOG_PATH_IN_EXECUTOR: '/srv/exec/logs' });
    const sources = logSources(plan);
    // c0 (the proxy) runs on p0's machine: one LOG_PATH, fetched once.
    assert.deepEqual(
      sources.map((s) => [s.host, s.sharedWith]),
      [
        ['p0', ['c0']],
        ['p1', []],
        ['d0', []],
        ['d1', []],
      ],
    );
    for (const s of sources) {
      assert.equal(s.fetch.remoteDir, '/data/logs');
      assert.equal(s.fetch.localDir, `/srv/exec/logs/${s.host}`);
      assert.equal(s.fetch.target.name, s.host);
    }
  });

  it('includes a proxy host on its own machine', () => {
    const plan = seedPlan('2P1D');
    const proxy = plan.hosts.find((h) => h.role === 'proxy')!;
    const moved = {
      ...plan,
      hosts: plan.hosts.map((h) => (h === proxy ? { ...h, address: '192.0.2.99' } : h)),
    };
    assert.deepEqual(
      logSources(moved).map((s) => s.host),
      ['p0', 'p1', 'd0', 'd1', 'c0'],
    );
  });

  it('carries no secret: a password host is only referenced for the worker to resolve', () => {
    const plan = planFromFile(path.join(__dirname, '..', 'fixtures', 'inventories', 'precedence.yml'), {});
    const input = fetchLogsInput(plan, 'omni-deploy@exec1', { maximumAttempts: 2 });
    assert.equal(input.executorTaskQueue, 'omni-deploy@exec1');
    assert.equal(input.maximumAttempts, 2);
    const text = JSON.stringify(input);
    assert.ok(input.sources.some((s) => s.fetch.target.auth.method === 'password'));
    assert.ok(!text.includes('from-all'), 'the inventory password is not in the workflow input');
  });
});
