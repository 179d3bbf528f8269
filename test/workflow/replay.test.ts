import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { clusterWorkflowId } from '../../src/shared/ids';
import { HISTORIES_DIR, historyFromObject } from '../helpers/deploy';
import {
  OPERATION_KINDS,
  coverageTable,
  recordedCoverage,
  sourcePatchIds,
  type OperationKind,
} from '../helpers/historyCoverage';
import { workflowBundle } from '../helpers/temporal';

/**
 * Today's workflow code must replay the histories real runs recorded on the simulated cluster
 * (test/histories): a workflow started by an older release must go on under a newer one. A change
 * that breaks this belongs behind `patched()`; keep the old files and record new ones with
 *   RECORD_HISTORIES=1 node --import tsx --test test/e2e/cluster*.test.ts
 * (each e2e test writes its workflow's history; see recordHistory in test/helpers/deploy.ts).
 * Every operation of a running cluster (heal off/on, restart update and signal, runPhases, a
 * rollout that fails and is rolled back, rollout and rollback, hostSteps children, continue-as-new)
 * is recorded by
 *   OMNI_SIM_TEST_INSTANCE=2xx RECORD_HISTORIES=1 node --import tsx --test test/e2e/clusterOperations.test.ts
 * and rollouts under load (argument, image, rollback, an instance added and removed) by
 *   OMNI_SIM_TEST_INSTANCE=2xx RECORD_HISTORIES=1 node --import tsx --test test/e2e/rollout.test.ts
 * `node --import tsx test/helpers/historyCoverage.ts` prints which history covers what.
 * Child workflow histories (hostStepsWorkflow) replay here too: the replayer takes the workflow
 * type from the history's first event.
 */
/**
 * The workflow ID the history ran under: child workflow IDs are made from it
 * (`<cluster workflow ID>/<step>`), so a replay under another ID would not match the history.
 * A cluster run's is `cluster/<name>` (its input's plan); a hostSteps child's is its parent's
 * plus its step. Other histories replay under their file name.
 */
function recordedWorkflowId(history: temporal.api.history.v1.IHistory, file: string): string {
  const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = started?.input?.payloads?.[0];
  const input = payload
    ? defaultPayloadConverter.fromPayload<{ plan?: { cluster?: string }; step?: string }>(payload)
    : undefined;
  const type = started?.workflowType?.name;
  if (type === 'deployCluster' && input?.plan?.cluster) return clusterWorkflowId(input.plan.cluster);
  const parent = started?.parentWorkflowExecution?.workflowId;
  if (type === 'hostStepsWorkflow' && parent && input?.step) return `${parent}/${input.step}`;
  return file;
}

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
      // Recorded from the code at tag prev-build-2026-12-07 (test/e2e/clusterOperations.test.ts):
      // every step over several hosts in hostSteps children, the ranktable phase, heal off then
      // on around a repair, restart update and signal, runPhases (`--tags sync_code`), a rollout
      // that failed and was rolled back while waiting for the operator, a rollout and its rollback.
      'deploy-operations-in-children',
      // One hostSteps child workflow of that deploy.
      'host-steps-child',
      // A run that continued as new after a phase, and the run after it (carried state, a restart,
      // continued as new again at its idle point).
      'deploy-continue-as-new-after-phase',
      'deploy-continued-restart-then-continue-as-new',
      // test/e2e/rollout.test.ts: rollouts of an argument and an image under load, a rollback, a
      // prefill instance added (ranktables rebuilt) and removed; steps in the cluster workflow.
      'deploy-rollouts-rollback-add-remove-prefill',
      // test/e2e/upgrade.test.ts: a run started by the previous build that moved to the new code
      // at its idle point (continue-as-new-on-upgrade), and the new build's run with a restart.
      'upgrade-previous-build-run-continued-as-new',
      'upgrade-new-build-run-restart',
      // test/workflow/healing.test.ts: a repair that waited for its decode host to answer again
      // (repair-waits-for-host) instead of spending its attempts.
      'deploy-heal-waits-for-decode-host',
    ]) {
      assert.ok(files.includes(`${name}.json`), `test/histories/${name}.json is missing`);
    }
  });

  // A patch ID of src/ or an operation kind no history goes through is a path a change of the
  // workflow code could break without any test noticing. The table shows what covers what.
  it('goes through every patch of src/ (with its marker) and every operation kind', () => {
    const coverage = recordedCoverage(HISTORIES_DIR);
    const patchIds = sourcePatchIds();
    assert.ok(patchIds.length >= 9, `patch IDs found in src/: ${patchIds.join(', ')}`);
    const table =
      coverageTable(patchIds, (id, h) => h.patches.has(id), coverage) +
      '\n' +
      coverageTable([...OPERATION_KINDS], (k, h) => h.operations.has(k as OperationKind), coverage);
    const missingPatches = patchIds.filter((id) => !coverage.some((h) => h.patches.has(id)));
    const missingOps = OPERATION_KINDS.filter((k) => !coverage.some((h) => h.operations.has(k)));
    assert.deepEqual(missingPatches, [], `patch IDs no history goes through:\n${table}`);
    assert.deepEqual(missingOps, [], `operation kinds no history contains:\n${table}`);
  });

  for (const file of files) {
    it(`replays ${file} without a nondeterminism error`, async () => {
      const history = historyFromObject(JSON.parse(fs.readFileSync(path.join(HISTORIES_DIR, file), 'utf8')));
      assert.ok((history.events?.length ?? 0) > 10, 'a real history');
      await Worker.runReplayHistory(
        { workflowBundle: await workflowBundle() },
        history,
        recordedWorkflowId(history, file),
      );
    });
  }
});
