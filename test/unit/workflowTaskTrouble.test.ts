import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { workflowTaskTrouble } from '../../src/client/stepAttempts';

/** Only the field the check reads: the server's record of the pending workflow task. */
const described = (attempt?: number) =>
  ({
    raw: { pendingWorkflowTask: attempt === undefined ? null : { attempt } },
  }) as unknown as WorkflowExecutionDescription;

describe('a workflow task that keeps failing', () => {
  it('is quiet while the task runs or was retried once', () => {
    assert.equal(workflowTaskTrouble(described()), undefined);
    assert.equal(workflowTaskTrouble(described(1)), undefined);
    assert.equal(workflowTaskTrouble(described(2)), undefined);
  });

  it('says so from the third attempt, with where to look', () => {
    const line = workflowTaskTrouble(described(7));
    assert.match(line ?? '', /failed 6 times in a row: nothing moves until a worker can run it/);
    assert.match(line ?? '', /worker\.log/);
  });
});
