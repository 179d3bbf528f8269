import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ClusterState } from '../../src/workflows/cluster/state';

/** The host × phase table shows each step's latest run, and nothing runs once an operation ended. */
describe('status table cells', () => {
  const fresh = () => ClusterState.fresh('c', ['p0', 'd0'], ['run_docker', 'run_server'], {});

  it('a step that runs again (repair, rollout, retry) starts its cell anew, without the old end or error', () => {
    const s = fresh();
    s.markRunning('d0', 'run_server', 1000);
    s.markFailed('d0', 'run_server', 5000, { type: 'ConnectionError', message: 'lost', nonRetryable: false });
    s.markRunning('d0', 'run_server', 500_000);
    assert.deepEqual(s.cell('d0', 'run_server'), { state: 'running', startedAt: 500_000, note: undefined });
  });

  it('a step already running keeps its start when its hosts report again', () => {
    const s = fresh();
    s.markRunning('p0', 'run_docker', 1000);
    s.markRunning('p0', 'run_docker', 4000);
    assert.equal(s.cell('p0', 'run_docker')?.startedAt, 1000);
  });

  it('settling ends every running cell ok at that time and leaves the others alone', () => {
    const s = fresh();
    s.markRunning('p0', 'run_docker', 1000);
    s.markRunning('d0', 'run_server', 2000);
    s.markFailed('d0', 'run_server', 3000, { type: 'CommandError', message: 'x', nonRetryable: true });
    s.settleRunningCells(9000);
    assert.deepEqual(s.cell('p0', 'run_docker'), {
      state: 'ok',
      startedAt: 1000,
      endedAt: 9000,
      note: undefined,
    });
    assert.equal(s.cell('d0', 'run_server')?.state, 'failed');
    assert.ok(
      Object.values(s.status.table).every((row) => Object.values(row).every((c) => c?.state !== 'running')),
    );
  });
});
