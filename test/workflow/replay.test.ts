import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from '@temporalio/worker';
import { HISTORIES_DIR, historyFromObject } from '../helpers/deploy';
import { workflowBundle } from '../helpers/temporal';

/**
 * Today's workflow code must replay the histories real runs recorded on the simulated cluster
 * (test/histories): a workflow started by an older release must go on under a newer one. A change
 * that breaks this belongs behind `patched()`; keep the old files and record new ones with
 *   RECORD_HISTORIES=1 node --import tsx --test test/e2e/cluster*.test.ts
 * (each e2e test writes its workflow's history; see recordHistory in test/helpers/deploy.ts).
 */
describe('replay of recorded cluster workflow histories', () => {
  const files = fs
    .readdirSync(HISTORIES_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort();

  it('has recordings of the interesting paths', () => {
    for (const name of [
      'deploy-rerun',
      'deploy-image-change-clean-up',
      'deploy-cancel-mid-phase',
      'deploy-cancel-during-run-docker',
      // Recorded before `patched('cancel-waits-for-steps')`: runs started then must still replay.
      'deploy-cancel-mid-phase-before-wait-patch',
      'deploy-resume-after-worker-kill',
      'deploy-host-down-retry-failed',
      'deploy-host-key-mismatch',
      // A multi-host prefill instance whose member never joined: retryFailed relaunches the instance.
      'deploy-multihost-retry-relaunches-instance',
      // The health watch and self-healing: a repair that succeeds once the host returns, and one
      // that runs out of attempts and is retried by the operator.
      'deploy-heal-decode-host-returns',
      'deploy-heal-exhausted-then-retry',
      // Code and an image archive fanned out host to host; a relay powered off mid-copy.
      'deploy-sync-fan-out-relay-down',
      'deploy-image-archive-fan-out',
    ]) {
      assert.ok(files.includes(`${name}.json`), `test/histories/${name}.json is missing`);
    }
  });

  for (const file of files) {
    it(`replays ${file} without a nondeterminism error`, async () => {
      const history = historyFromObject(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
      assert.ok((history.events?.length ?? 0) > 10, 'a real history');
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
    });
  }
});
