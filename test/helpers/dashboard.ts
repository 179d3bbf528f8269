import * as fs from 'node:fs';
import * as path from 'node:path';

export const DASHBOARD_FILE = path.join(__dirname, '..', '..', 'dashboards', 'grafana-omni-deploy.json');

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: { expr: string }[];
}

export interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; query: string | unknown }[] };
}

export function readDashboard(): Dashboard {
  return JSON.parse(fs.readFileSync(DASHBOARD_FILE, 'utf8')) as Dashboard;
}

/** Every PromQL expression of the dashboard: panel targets and template variable queries. */
export function dashboardQueries(d: Dashboard = readDashboard()): string[] {
  return [
    ...d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
    ...d.templating.list
      .map((v) => v.query)
      .filter((q): q is string => typeof q === 'string' && q.includes('(')),
  ];
}

/** The metric names the dashboard's queries use, as a scrape shows them: the worker's and the engines'. */
export function dashboardMetrics(d: Dashboard = readDashboard()): { worker: string[]; engine: string[] } {
  const names = new Set(
    dashboardQueries(d).flatMap((q) => q.match(/\b(omni_deploy_[a-z0-9_]+|vllm:[a-z0-9_:]+)/g) ?? []),
  );
  const sorted = [...names].sort();
  return {
    worker: sorted.filter((n) => n.startsWith('omni_deploy_')),
    engine: sorted.filter((n) => n.startsWith('vllm:')),
  };
}
