import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { StatusPublisher, type StatusSinks } from '../../src/workflows/cluster/publisher';
import { ClusterState } from '../../src/workflows/cluster/state';
import type { ClusterHealth } from '../../src/workflows/cluster/health';

/** A state with a publisher attached, and what the publisher wrote, in order. */
function cluster() {
  const writes: string[] = [];
  const sinks: StatusSinks = {
    details: (markdown) => writes.push(`details: ${markdown.split('\n')[0]}`),
    attribute: (key, value) => writes.push(`${key.name}=${value}`),
  };
  const state = ClusterState.fresh('c1', ['p0', 'd0'], ['preflight', 'run_docker'], {});
  const publisher = new StatusPublisher(sinks);
  state.onChange((s) => publisher.publish(s));
  /** What was written since the last call, once the details of the burst are rendered. */
  const written = async () => {
    await Promise.resolve();
    return writes.splice(0);
  };
  return { state, written };
}

const health = (state: ClusterHealth['state']): ClusterHealth => ({
  state,
  since: 0,
  observedAt: 0,
  units: [],
});

describe('StatusPublisher', () => {
  it('publishes the status as soon as it is attached', async () => {
    const { written } = cluster();
    assert.deepEqual(await written(), ['DeployPhase=deploying', 'details: **c1** — deploying']);
  });

  it('upserts an attribute at the change itself (its place among the commands)', async () => {
    const { state, written } = cluster();
    await written();
    const order: string[] = [];
    state.setStage('deploying', 'preflight');
    order.push('next command');
    const w = await written();
    assert.equal(w[0], 'DeployPhase=preflight');
    assert.deepEqual(order, ['next command']);
  });

  it('publishes on every change of the state, and only what changed', async () => {
    const { state, written } = cluster();
    await written();
    state.setStage('deploying', 'preflight');
    assert.deepEqual(await written(), ['DeployPhase=preflight', 'details: **c1** — deploying (preflight)']);
    state.markRunning('p0', 'preflight', 1);
    assert.deepEqual(await written(), ['details: **c1** — deploying (preflight)'], 'a cell: details only');
    state.showOperations({ kind: 'restart', what: 'restart all engines', requestedAt: 2 }, []);
    assert.deepEqual(await written(), ['details: **c1** — deploying (preflight)']);
  });

  it('renders the details once for a burst of changes', async () => {
    const { state, written } = cluster();
    await written();
    state.markRunning('p0', 'preflight', 1);
    state.markRunning('d0', 'preflight', 1);
    state.markStepDone('preflight', 'p0', 'preflight', 2);
    assert.equal((await written()).length, 1);
  });

  it('never publishes when nothing shown changed', async () => {
    const { state, written } = cluster();
    state.setStage('deploying', 'preflight');
    state.markRunning('p0', 'preflight', 1);
    await written();
    state.setStage('deploying', 'preflight');
    state.markRunning('p0', 'preflight', 1);
    state.setFailures([]);
    state.setStepData('k', 1);
    state.showPhase('preflight');
    assert.deepEqual(await written(), []);
  });

  it('sets DeployHealth once a watch judged the cluster, then on changes only', async () => {
    const { state, written } = cluster();
    state.setStage('ready');
    assert.ok(!(await written()).some((w) => w.startsWith('DeployHealth')), 'no watch yet: not set');
    state.setHealth(health('serving'));
    assert.ok((await written()).includes('DeployHealth=serving'));
    state.setHealth(health('serving'));
    assert.deepEqual(await written(), []);
    state.setHealth(health('down'));
    assert.ok((await written()).includes('DeployHealth=down'));
  });
});
