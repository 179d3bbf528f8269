import { describeHealth } from './health';
import type { ClusterStatus, CellState } from './types';

const SYMBOL: Record<CellState, string> = {
  pending: '·',
  running: '⏳',
  ok: '✅',
  failed: '❌',
  skipped: '–',
};

/**
 * The Web UI's "current details" of a cluster workflow: a small host × phase table in markdown,
 * plus the failures waiting for the operator. Pure, so the CLI can print the same view.
 */
export function renderDetails(s: ClusterStatus): string {
  const header = `| host | ${s.phases.join(' | ')} |`;
  const rule = `|---|${s.phases.map(() => '---').join('|')}|`;
  const rows = s.hosts.map((h) => {
    const row = s.table[h] ?? {};
    return `| ${h} | ${s.phases.map((p) => SYMBOL[row[p]?.state ?? 'pending']).join(' | ')} |`;
  });
  const lines = [
    `**${s.cluster}** — ${s.stage}${s.currentPhase ? ` (${s.currentPhase})` : ''}`,
    '',
    header,
    rule,
    ...rows,
  ];
  if (s.failures.length > 0) {
    lines.push(
      '',
      s.stage === 'cleaned'
        ? '**Cleanup failed** — these hosts may still run engines or hold files this tool made:'
        : '**Failed** — `deploy retry` re-runs them, `deploy down` cleans up:',
    );
    for (const f of s.failures) lines.push(`- ${f.host} · ${f.phase}: ${f.type}: ${f.message}`);
  }
  if (s.health) lines.push('', ...describeHealth(s.health, s.healing).map((l) => `- ${l.trim()}`));
  if (s.operation) lines.push('', `Now: ${s.operation.what}`);
  const endpoints = Object.entries(s.endpoints);
  if (endpoints.length > 0) {
    lines.push('', ...endpoints.map(([k, v]) => `- ${k}: ${v}`));
  }
  return lines.join('\n');
}
