import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker, type WorkflowBundle } from '@temporalio/worker';
import type { Activities } from '../../src/activities';
import { PROJECT_ROOT, temporalCliPath } from '../../src/shared/paths';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { WORKFLOWS_PATH } from '../../src/worker';
import type { Phase } from '../../src/shared/phases';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';

/** Set by the test runner (test/runner.ts) to the dev server the workflow files share. */
export const SHARED_TEMPORAL_ENV = 'OMNI_TEST_TEMPORAL_ADDRESS';

/**
 * A real Temporal dev server (the CLI built by scripts/build-temporal.sh) with the workflows'
 * search attributes registered. Never a fake: `existing-path` only. Under the test runner the
 * workflow files share one (OMNI_TEST_TEMPORAL_ADDRESS, started by test/runner.ts with the same
 * search attributes) and this connects to it — `teardown()` then closes the connections and
 * leaves the server running; a file run alone starts its own. Tests on a shared server must use
 * task queues and workflow IDs of their own (a random UUID in them).
 */
export async function startTestServer(): Promise<TestWorkflowEnvironment> {
  const shared = process.env[SHARED_TEMPORAL_ENV];
  if (shared) return TestWorkflowEnvironment.createFromExistingServer({ address: shared });
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: [...SEARCH_ATTRIBUTES],
    },
  });
}

let bundle: Promise<WorkflowBundle> | undefined;

/**
 * The workflows bundled once per test process; workers created from it start in milliseconds.
 * The bundle `node scripts/build.js` wrote (dist/workflow-bundle.js, as the production worker
 * loads it: src/worker.ts) when that build is at least as new as every source
 * (scripts/build-stamp.js) — the test scripts build first — else webpack here.
 */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= prebuilt() ?? bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
}

function prebuilt(): Promise<WorkflowBundle> | undefined {
  const codePath = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JavaScript of the checkout, shared with bin/deploy
  const stamp = require(path.join(PROJECT_ROOT, 'scripts', 'build-stamp.js')) as {
    isBuildFresh(root: string): boolean;
  };
  if (!fs.existsSync(codePath) || !stamp.isBuildFresh(PROJECT_ROOT)) return undefined;
  return Promise.resolve({ code: fs.readFileSync(codePath, 'utf8') });
}

const quietLogger = {
  log: () => undefined,
  trace: () => undefined,
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => console.warn(m),
  error: (m: string) => console.error(m),
};

/**
 * Deploy options for workflow tests with mocked activities on `taskQueue`: every host at once,
 * quick retries (2 attempts, 10 ms apart), the executor's steps on the same queue.
 */
export function mockedOptions(
  taskQueue: string,
  phases: Phase[],
  overrides: Partial<DeployOptions> = {},
): DeployOptions {
  return {
    phases,
    parallelism: 50,
    executorTaskQueue: taskQueue,
    activity: {
      ...DEFAULT_ACTIVITY_TUNING,
      retry: { ...DEFAULT_ACTIVITY_TUNING.retry, initialInterval: '10ms', maximumAttempts: 2 },
    },
    maxHistoryEvents: 10_000,
    ...overrides,
  };
}

/**
 * A worker of the workflows and the given (fake) activities on a task queue of its own
 * (`<prefix>-<uuid>`: safe on a server other test files share), running while `fn` runs; `fn`
 * gets the queue. The workflow tests' one way to run the workflows over mocked activities.
 */
export async function withMockedWorker<T>(
  env: TestWorkflowEnvironment,
  activities: Partial<Activities>,
  prefix: string,
  fn: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `${prefix}-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities,
  });
  return worker.runUntil(fn(taskQueue));
}
