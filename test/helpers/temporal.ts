import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { temporalCliPath } from '../../src/shared/paths';
import { SEARCH_ATTRIBUTES } from '../../src/shared/searchAttributes';
import { WORKFLOWS_PATH } from '../../src/worker';

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
