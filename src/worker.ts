import { DefaultLogger, NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { closeActivityDeps, createActivities, createActivityDeps, type ActivityDeps } from './activities';
import { EngineLoadExport } from './activities/engineLoad';
import { PROJECT_ROOT } from './shared/paths';
import { executorTaskQueue, SHARED_TASK_QUEUE } from './shared/taskQueues';
import { resolveTemporalTarget, unreachableMessage } from './shared/temporalConnection';

export const WORKFLOWS_PATH = require.resolve('./workflows');

/**
 * The workflow bundle `npm run build` writes (dist/workflow-bundle.js), so a worker skips webpack
 * at start — used only while that build is newer than every source (the check bin/deploy makes
 * before each command, scripts/build-stamp.js); otherwise the worker bundles the workflows itself.
 */
export function prebuiltWorkflowBundle(): WorkerOptions['workflowBundle'] {
  const codePath = path.join(PROJECT_ROOT, 'dist', 'workflow-bundle.js');
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- plain JavaScript of the checkout, shared with bin/deploy
  const stamp = require(path.join(PROJECT_ROOT, 'scripts', 'build-stamp.js')) as {
    isBuildFresh(root: string): boolean;
  };
  return fs.existsSync(codePath) && stamp.isBuildFresh(PROJECT_ROOT) ? { codePath } : undefined;
}

export interface WorkerSetOptions {
  connection: NativeConnection;
  namespace: string;
  /** Serve the shared queue (workflows + remote activities). */
  shared?: boolean;
  /** Serve this machine's executor queue (local-disk activities); the name of the executor. */
  executor?: string | false;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** What the activities share (default: a fresh SSH pool); closed when the workers stop. */
  deps?: ActivityDeps;
  /**
   * The worker exports metrics: the health watch also reads each API server's load and exports it
   * per unit (src/activities/engineLoad.ts).
   */
  engineLoad?: boolean;
}

/** The workers of one `deploy worker` process and the SSH connections their activities share. */
export interface WorkerSet {
  workers: Worker[];
  /**
   * Runs every worker until it shuts down (`worker.shutdown()`, or SIGINT/SIGTERM through the
   * SDK's runtime), then closes every pooled SSH connection: nothing of this process stays
   * logged in on the hosts.
   */
  run(): Promise<void>;
}

/**
 * The workers one `deploy worker` process runs: the shared queue and, unless disabled, the queue
 * of this executor machine. Both use the same activities and one SSH pool; which queue an
 * activity is sent to is the workflow's decision.
 */
export async function createWorkers(options: WorkerSetOptions): Promise<WorkerSet> {
  const deps = options.deps ?? createActivityDeps();
  if (options.engineLoad) deps.engineLoad ??= new EngineLoadExport();
  // Cancellation reaches an activity with a heartbeat response, so a short throttle lets
  // `deploy down` stop remote commands within seconds instead of the SDK's default 60 s.
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    activities: createActivities(deps),
    maxHeartbeatThrottleInterval: '2 seconds',
    shutdownGraceTime: '10 seconds',
  } as const;
  const workflowSource = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: WORKFLOWS_PATH };
  const workers: Worker[] = [];
  try {
    if (options.shared !== false) {
      workers.push(await Worker.create({ ...common, taskQueue: SHARED_TASK_QUEUE, ...workflowSource }));
    }
    if (options.executor !== false) {
      workers.push(await Worker.create({ ...common, taskQueue: executorTaskQueue(options.executor) }));
    }
  } catch (err) {
    await closeActivityDeps(deps);
    throw err;
  }
  return {
    workers,
    run: async () => {
      try {
        await Promise.all(workers.map((w) => w.run()));
      } finally {
        await closeActivityDeps(deps);
      }
    },
  };
}

/** Keep the SDK's own log lines (bundler output, state changes) out of an operator's terminal. */
export function installQuietRuntime(level: 'WARN' | 'INFO' = 'WARN', metricsAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger(level),
    // The SDK's own metrics (task latencies, slots, failures) and the workflows' (cluster and
    // unit health, repairs: src/workflows/cluster/metrics.ts) on one Prometheus endpoint.
    ...(metricsAddress !== undefined && {
      telemetryOptions: { metrics: { prometheus: { bindAddress: metricsAddress } } },
    }),
  });
}

/**
 * Run until SIGINT/SIGTERM. The SDK's runtime turns those signals into `worker.shutdown()`:
 * polling stops, running activities get `shutdownGraceTime` to finish (their cancellation signal
 * fires), the SSH connections close, then the process exits cleanly; unfinished work is picked up
 * by another worker.
 */
export async function runWorkers(
  opts: {
    shared?: boolean;
    executor?: string | false;
    engineLoad?: boolean;
    /**
     * Runs beside the workers once they poll (the metrics gate); if it fails, the workers shut
     * down and its error is the worker's.
     */
    whileRunning?: (connection: NativeConnection, namespace: string) => Promise<void>;
  } = {},
): Promise<void> {
  const { whileRunning, ...workerOpts } = opts;
  const target = resolveTemporalTarget();
  const connection = await NativeConnection.connect(target.connectionOptions).catch((err: unknown) => {
    throw new Error(unreachableMessage(target, err));
  });
  try {
    const set = await createWorkers({
      connection,
      namespace: target.namespace,
      workflowBundle: prebuiltWorkflowBundle(),
      ...workerOpts,
    });
    const queues = set.workers.map((w) => w.options.taskQueue).join(', ');
    console.log(`worker connected to ${target.address} (namespace ${target.namespace}), serving ${queues}`);
    const running = set.run();
    let failure: unknown;
    await whileRunning?.(connection, target.namespace).catch((err: unknown) => {
      failure = err;
      for (const w of set.workers) if (w.getState() === 'RUNNING') w.shutdown();
    });
    await running;
    if (failure !== undefined) throw failure;
    console.log('worker stopped');
  } finally {
    await connection.close();
  }
}

if (require.main === module) {
  runWorkers().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
