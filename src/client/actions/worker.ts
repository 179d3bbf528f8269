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
  const metrics = flags.metricsPort === undefined ? undefined : `127.0.0.1:${flags.metricsPort}`;
  installQuietRuntime(flags.verbose ? 'INFO' : 'WARN', metrics);
  if (metrics) console.log(`metrics: http://${metrics}/metrics`);
  await runWorkers({ shared: flags.shared, executor: flags.executor });
}
