import { ensureBackgroundWorker, stopBackgroundWorker, workerLogFile } from '../backgroundWorker';

export interface WorkerFlags {
  executor: string | false;
  shared: boolean;
  verbose?: boolean;
  detach?: boolean;
  stop?: boolean;
  /** Serve Prometheus metrics on this port (all interfaces' loopback only: 127.0.0.1). */
  metricsPort?: number;
}

export async function worker(flags: WorkerFlags): Promise<void> {
  if (flags.stop) {
    const pid = await stopBackgroundWorker();
    console.log(pid === undefined ? 'no background worker is running' : `stopped worker pid ${pid}`);
    return;
  }
  if (flags.detach) {
    const w = await ensureBackgroundWorker([
      ...(flags.executor === false ? ['--no-executor'] : ['--executor', flags.executor]),
      ...(flags.shared ? [] : ['--no-shared']),
      ...(flags.metricsPort !== undefined ? ['--metrics-port', String(flags.metricsPort)] : []),
    ]);
    console.log(
      `${w.started ? 'started' : 'reusing'} background worker pid ${w.pid}; log ${workerLogFile()}`,
    );
    return;
  }
  // The worker itself (the SDK's native core, the activities, SSH) only for a worker that runs here.
  const { installQuietRuntime, runWorkers } = require('../../worker') as typeof import('../../worker');
  const level = flags.verbose ? 'INFO' : 'WARN';
  const port = flags.metricsPort;
  if (port === undefined) {
    installQuietRuntime(level);
    await runWorkers({ shared: flags.shared, executor: flags.executor });
    return;
  }
  const gate = require('../../temporal/metricsGate') as typeof import('../../temporal/metricsGate');
  await gate.assertPortFree('127.0.0.1', port);
  const exporter = { host: '127.0.0.1', port: await gate.freeLoopbackPort() };
  installQuietRuntime(level, `${exporter.host}:${exporter.port}`);
  let server: import('node:http').Server | undefined;
  try {
    await runWorkers({
      shared: flags.shared,
      executor: flags.executor,
      engineLoad: true,
      whileRunning: async (connection, namespace) => {
        // Cluster workflows (and their health) run on the shared queue only.
        const clusters = flags.shared
          ? await gate.watchedClusters(connection, namespace).catch((err: unknown) => {
              console.log(`metrics: cannot list the clusters to wait for (${String(err)}); opening now`);
              return [];
            })
          : [];
        server = await gate.openMetricsGate(clusters, {
          exporter,
          listen: { host: '127.0.0.1', port },
          waitMs: METRICS_WAIT_MS,
          log: (line) => console.log(line),
        });
      },
    });
  } finally {
    server?.close();
  }
}

/**
 * How long the metrics endpoint waits for the clusters' health after a (re)start: a watch whose
 * worker was killed is retried once its heartbeat times out (20 s by a deploy's defaults).
 */
const METRICS_WAIT_MS = 60_000;
