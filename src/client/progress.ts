import pc from 'picocolors';
import type { ClusterStatus, CellState, OperationInfo } from '../workflows/cluster/types';
import { describeHealth } from '../workflows/cluster/health';
import { describeAttempt, type StepAttempt } from './stepAttempts';

const CELL: Record<CellState, (s: string) => string> = {
  pending: pc.dim,
  running: pc.yellow,
  ok: pc.green,
  failed: pc.red,
  skipped: pc.dim,
};
const WORD: Record<CellState, string> = {
  pending: '·',
  running: 'running',
  ok: 'ok',
  failed: 'FAILED',
  skipped: 'skip',
};

function seconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/**
 * The terminal view of a cluster: a host × phase table with timings, then failures and endpoints.
 * The same information as the Web UI's current details, coloured for a terminal.
 */
export function renderStatus(
  s: ClusterStatus,
  now = Date.now(),
  color = true,
  retrying: readonly StepAttempt[] = [],
): string {
  const paint = (state: CellState, text: string) => (color ? CELL[state](text) : text);
  const width = Math.max(4, ...s.hosts.map((h) => h.length));
  const colWidth = Math.max(...s.phases.map((p) => p.length), 12);
  const head = `${'host'.padEnd(width)}  ${s.phases.map((p) => p.padEnd(colWidth)).join(' ')}`;
  const rows = s.hosts.map((h) => {
    const cells = s.phases.map((p) => {
      const c = s.table[h]?.[p];
      const state = c?.state ?? 'pending';
      const took = c?.startedAt ? ` ${seconds((c.endedAt ?? now) - c.startedAt)}` : '';
      const text = state === 'pending' || state === 'skipped' ? WORD[state] : `${WORD[state]}${took}`;
      return paint(state, text.padEnd(colWidth));
    });
    return `${h.padEnd(width)}  ${cells.join(' ')}`;
  });
  const stage = `${s.cluster}: ${s.stage}${s.currentPhase ? ` (${s.currentPhase})` : ''}`;
  const lines = [color ? pc.bold(stage) : stage, head, ...rows];
  for (const a of retrying) {
    const line = describeAttempt(a, now);
    lines.push(a.noAnswerForMs === undefined ? paint('running', `retrying ${line}`) : paint('failed', line));
  }
  for (const f of s.failures) {
    lines.push(`${paint('failed', `${f.host} · ${f.phase}`)}: ${f.type}: ${f.message}`);
  }
  const ago = (o: OperationInfo) => seconds(now - o.requestedAt);
  if (s.health) {
    const [head, ...rest] = describeHealth(s.health, s.healing);
    const state = s.health.state === 'serving' ? 'ok' : s.health.state === 'degraded' ? 'running' : 'failed';
    lines.push(paint(state, head!), ...rest);
  }
  if (s.operation) lines.push(`operation: ${s.operation.what} (requested ${ago(s.operation)} ago)`);
  for (const q of s.queued ?? []) lines.push(`queued: ${q.what} (requested ${ago(q)} ago)`);
  if (s.stage === 'waiting-for-operator') {
    lines.push(
      `fix the cause, then \`deploy retry ${s.cluster}\`; or \`deploy down ${s.cluster}\` to clean up`,
    );
  }
  for (const [k, v] of Object.entries(s.endpoints)) lines.push(`${k}: ${v}`);
  return lines.join('\n');
}
