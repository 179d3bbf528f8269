import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { describeAttempt, stepAttempts } from '../../src/client/stepAttempts';
import { listenFor, silenceOf } from '../../src/remote/silence';

const at = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

/** Only the fields stepAttempts reads: the server's record of pending activities. */
const described = (pending: object[]) =>
  ({ raw: { pendingActivities: pending } }) as unknown as WorkflowExecutionDescription;

describe('steps in view while they wait on a host', () => {
  const now = 1_800_000_000_000;

  it('a first attempt whose host is silent is shown, with the silence grown since the heartbeat', () => {
    const [a, ...rest] = stepAttempts(
      described([
        {
          activityId: 'd1/run_docker/7',
          attempt: 1,
          maximumAttempts: 5,
          heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload({ noAnswerForMs: 12_000 })] },
          lastHeartbeatTime: at(now - 3000),
        },
        // A first attempt that heartbeats without silence: nothing to say about it.
        {
          activityId: 'p0/run_docker/8',
          attempt: 1,
          heartbeatDetails: { payloads: [defaultPayloadConverter.toPayload({ rsync: '10%' })] },
          lastHeartbeatTime: at(now - 1000),
        },
      ]),
      now,
    );
    assert.equal(rest.length, 0);
    assert.deepEqual(a, {
      host: 'd1',
      phase: 'run_docker',
      attempt: 1,
      maximumAttempts: 5,
      noAnswerForMs: 15_000,
    });
    assert.equal(describeAttempt(a!, now), 'd1 · run_docker: no answer from d1 for 15 s (attempt 1 of 5)');
  });

  it('a retried step reads as before', () => {
    const [a] = stepAttempts(
      described([
        {
          activityId: 'p1/sync_code/3',
          attempt: 2,
          maximumAttempts: 5,
          lastFailure: {
            message: 'the connection was lost',
            applicationFailureInfo: { type: 'ConnectionError' },
          },
        },
      ]),
      now,
    );
    assert.equal(a!.noAnswerForMs, undefined);
    assert.equal(
      describeAttempt(a!, now),
      'p1 · sync_code: attempt 2 of 5 — last: ConnectionError: the connection was lost',
    );
  });

  it('silence counts only while a command runs on a live connection', () => {
    const conn = { lastHeardAt: now - 20_000, active: 0, alive: true };
    listenFor('h9', conn);
    assert.equal(silenceOf('h9', now), undefined, 'idle: quiet is normal');
    conn.active = 1;
    assert.equal(silenceOf('h9', now), 20_000);
    conn.alive = false;
    assert.equal(silenceOf('h9', now), undefined, 'a dropped connection fails its command instead');
    assert.equal(silenceOf('never-seen', now), undefined);
  });
});
