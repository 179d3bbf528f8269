import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Plan, PlanHost } from '../../src/plan/types';
import { hostRef } from '../../src/workflows/common';
import { seedPlan } from '../helpers/plans';

/** The one host type: what the Plan says about a host is what every activity input names. */
describe('hostRef: a plan host as activity inputs name it', () => {
  const plan = seedPlan('2P1D');
  const p0 = plan.hosts.find((h) => h.name === 'p0')!;

  it('is the plan host’s name, address and ssh login, nothing else', () => {
    assert.deepEqual(hostRef(plan, p0), {
      name: 'p0',
      address: p0.address,
      port: 22,
      user: 'root',
      auth: { method: 'key', keyFile: '/path/to/key.pem' },
      knownHostsFile: '~/.ssh/known_hosts',
      hostKeyPolicy: 'strict',
    });
  });

  it('a password host refers to its inventory entry', () => {
    const password = {
      method: 'password' as const,
      password: { inventoryFile: '/srv/inv.yml', inventoryHost: 'p0' },
    };
    const host: PlanHost = { ...p0, ssh: { ...p0.ssh, auth: password } };
    assert.deepEqual(hostRef(plan, host).auth, password);
  });

  // A cluster workflow keeps the Plan it was started with: Plans made before the shared host type
  // still reach this code.
  it('reads the auth of Plans recorded before the shared host type', () => {
    const legacy = (auth: unknown): PlanHost => ({ ...p0, ssh: { ...p0.ssh, auth } as PlanHost['ssh'] });
    const oldPlan: Plan = { ...plan, inventoryFile: '/srv/old.yml' };
    assert.deepEqual(hostRef(oldPlan, legacy({ method: 'key', privateKeyFile: '/k' })).auth, {
      method: 'key',
      keyFile: '/k',
    });
    assert.deepEqual(
      hostRef(oldPlan, legacy({ method: 'password', secretRef: { inventoryHost: 'p0' } })).auth,
      { method: 'password', password: { inventoryFile: '/srv/old.yml', inventoryHost: 'p0' } },
    );
  });
});
