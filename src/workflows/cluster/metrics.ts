import { metricMeter } from '@temporalio/workflow';
import type { ClusterHealth } from './health';

/**
 * Cluster health and repairs as metrics, where operators look (the worker's Prometheus endpoint,
 * `deploy worker --metrics-port`). Emitted from the workflow, which owns the verdicts; the SDK
 * drops them while replaying, so a verdict is counted once.
 */
const LEVEL = { serving: 0, degraded: 1, down: 2 } as const;

// Created when used, inside a workflow: the meter belongs to the running workflow's context.

const clusterGauge = () =>
  metricMeter.createGauge(
    'omni_deploy_cluster_health',
    'int',
    '',
    'Cluster health: 0 serving, 1 degraded, 2 down',
  );
const unitGauge = () =>
  metricMeter.createGauge(
    'omni_deploy_unit_health',
    'int',
    '',
    'Unit health (prefill/decode instance, proxy): 0 serving, 1 degraded, 2 down',
  );
const hostGauge = () =>
  metricMeter.createGauge(
    'omni_deploy_host_ok',
    'int',
    '',
    'Host of a unit: 1 when reachable with its container and servers answering, else 0',
  );
const repairs = () =>
  metricMeter.createCounter(
    'omni_deploy_repairs',
    '',
    'Self-healing repairs of a unit, by result (started, failed, ok, exhausted)',
  );

export function recordHealthMetrics(cluster: string, health: ClusterHealth): void {
  clusterGauge().set(LEVEL[health.state], { cluster });
  for (const unit of health.units) {
    unitGauge().set(LEVEL[unit.state], { cluster, unit: unit.unit });
    for (const host of unit.hosts) {
      hostGauge().set(host.condition === 'ok' ? 1 : 0, { cluster, unit: unit.unit, host: host.host });
    }
  }
}

export function recordRepair(cluster: string, unit: string, result: string): void {
  repairs().add(1, { cluster, unit, result });
}
