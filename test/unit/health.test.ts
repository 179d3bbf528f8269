import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { HostObservation } from '../../src/shared/observation';
import { observationSignature } from '../../src/shared/observation';
import { assessHealth, clusterUnits, describeHealth } from '../../src/workflows/cluster/health';
import { seedPlan } from '../helpers/plans';

/** The health model: what the watch saw, judged per unit (what fails together) and cluster. */
const plan = seedPlan(); // p0 (prefill-0), p1 (prefill-1), d0+d1 (decode-0), c0 (proxy)

function observe(overrides: Record<string, Partial<HostObservation>> = {}): HostObservation[] {
  return plan.hosts.map((h) => ({
    host: h.name,
    reachable: true,
    container: 'running',
    servers: h.apiServers.map((s) => ({ port: s.port, dpRank: s.dpRank, healthy: true })),
    ...(h.role === 'proxy' && { proxy: 'ok' as const }),
    ...overrides[h.name],
  }));
}

const deadServers = (host: string, which: (dpRank: number) => boolean) => ({
  servers: plan.hosts
    .find((h) => h.name === host)!
    .apiServers.map((s) => ({ port: s.port, dpRank: s.dpRank, healthy: !which(s.dpRank) })),
});

describe('health model', () => {
  it('units: prefill instances, the decode instance, the proxy', () => {
    assert.deepEqual(
      clusterUnits(plan).map((u) => `${u.unit}:${u.hosts.join('+')}`),
      ['prefill-0:p0', 'prefill-1:p1', 'decode-0:d0+d1', 'proxy:c0'],
    );
  });

  it('everything answering: serving', () => {
    const h = assessHealth(plan, observe(), undefined, 1000);
    assert.equal(h.state, 'serving');
    assert.ok(h.units.every((u) => u.state === 'serving'));
  });

  it('one prefill instance down: the cluster is degraded (the other serves), naming host and cause', () => {
    const h = assessHealth(plan, observe({ p1: { container: 'stopped' } }), undefined, 1000);
    assert.equal(h.state, 'degraded');
    const p1 = h.units.find((u) => u.unit === 'prefill-1')!;
    assert.equal(p1.state, 'down');
    assert.match(p1.cause!, /p1 its container is not running/);
  });

  it('a decode host unreachable: the whole data-parallel group is down, and so is the cluster', () => {
    const h = assessHealth(
      plan,
      observe({ d1: { reachable: false, error: 'No route to host' } }),
      undefined,
      1000,
    );
    assert.equal(h.units.find((u) => u.unit === 'decode-0')!.state, 'down');
    assert.equal(h.state, 'down');
    assert.match(h.cause!, /decode-0 down: d1 No route to host/);
  });

  it('one decode rank not answering on a live host: degraded, naming the port and DP rank', () => {
    const rank = plan.hosts.find((h) => h.name === 'd1')!.apiServers[0]!;
    const h = assessHealth(
      plan,
      observe({ d1: deadServers('d1', (r) => r === rank.dpRank) }),
      undefined,
      1000,
    );
    const decode = h.units.find((u) => u.unit === 'decode-0')!;
    assert.equal(decode.state, 'degraded');
    assert.match(
      decode.cause!,
      new RegExp(`d1 API server :${rank.port} \\(DP rank ${rank.dpRank}\\) not answering`),
    );
    assert.equal(h.state, 'degraded');
  });

  it('every prefill down, or the proxy down: the cluster is down', () => {
    assert.equal(
      assessHealth(plan, observe({ p0: { container: 'missing' }, p1: { reachable: false } }), undefined, 1)
        .state,
      'down',
    );
    assert.equal(assessHealth(plan, observe({ c0: { proxy: 'unreachable' } }), undefined, 1).state, 'down');
  });

  it('keeps "since" while a condition lasts, resets it when it changes', () => {
    const first = assessHealth(plan, observe({ d1: { reachable: false } }), undefined, 1000);
    const later = assessHealth(plan, observe({ d1: { reachable: false } }), first, 5000);
    assert.equal(later.since, 1000);
    assert.equal(later.units.find((u) => u.unit === 'decode-0')!.since, 1000);
    const back = assessHealth(plan, observe(), later, 9000);
    assert.equal(back.state, 'serving');
    assert.equal(back.since, 9000);
    assert.match(describeHealth(later, 'on')[0]!, /^health: down since 1970-01-01T00:00:01Z/);
  });

  it('the signature ignores error wording but not state', () => {
    const a = observationSignature(observe({ d1: { reachable: false, error: 'timed out' } }));
    const b = observationSignature(observe({ d1: { reachable: false, error: 'No route to host' } }));
    assert.equal(a, b);
    assert.notEqual(a, observationSignature(observe()));
    assert.notEqual(
      observationSignature(observe()),
      observationSignature(observe({ d0: deadServers('d0', (r) => r === 0) })),
    );
  });
});
