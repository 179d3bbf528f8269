import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalCliPath } from '../../src/shared/paths';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { WORKFLOWS_PATH } from '../../src/worker';
import type { Phase } from '../../src/shared/phases';
import { DEFAULT_ACTIVITY_TUNING, type DeployOptions } from '../../src/workflows/cluster/types';

/**
 * A real Temporal dev server (the CLI built by scripts/build-temporal.sh) for one test file,
 * with the workflows' search attributes registered. Never a fake: `existing-path` only.
 */
export async function startTestServer(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      searchAttributes: [...SEARCH_ATTRIBUTES],
    },
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundle the workflows once per test process; workers created from it start in milliseconds. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietLogger });
  return bundle;
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
