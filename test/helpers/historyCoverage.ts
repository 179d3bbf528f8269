import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What the recorded histories (test/histories/*.json) exercise: the `patched()` IDs each one went
 * through with a marker (the new-code branch), and the operations of the cluster workflow it
 * contains. The replay test requires every patch ID of src/ and every operation kind to be in at
 * least one history, so a refactor of the workflow keeps being replayed against all of them.
 *
 * Print the table:  node --import tsx test/helpers/historyCoverage.ts
 */

export const SRC_DIR = path.join(__dirname, '..', '..', 'src');
export const HISTORIES = path.join(__dirname, '..', 'histories');

/** The operation kinds a history can show, with how each is recognised. */
export const OPERATION_KINDS = [
  'rollout',
  'rollback',
  'rollout-abandon',
  'restart',
  'restart-signal',
  'heal-off',
  'heal-on',
  'repair',
  'continue-as-new',
  'continued-run',
  'child-workflow',
  'child-history',
  'ranktable',
  'runPhases',
  'retry',
  'cancel',
] as const;
export type OperationKind = (typeof OPERATION_KINDS)[number];

export interface HistoryCoverage {
  file: string;
  workflowType: string;
  patches: Set<string>;
  operations: Set<OperationKind>;
}

/* The history JSON is protobufjs' object form (recordHistory in test/helpers/deploy.ts): enums
 * as strings, bytes as base64. Only the few fields read here are typed. */
interface Payload {
  data?: string;
}
interface HistoryEvent {
  eventType?: string;
  workflowExecutionStartedEventAttributes?: {
    workflowType?: { name?: string };
    continuedExecutionRunId?: string;
  };
  markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: Payload[] }> };
  workflowExecutionSignaledEventAttributes?: { signalName?: string };
  workflowExecutionUpdateAcceptedEventAttributes?: {
    protocolInstanceId?: string;
    acceptedRequest?: {
      meta?: { updateId?: string };
      input?: { name?: string; args?: { payloads?: Payload[] } };
    };
  };
  workflowExecutionUpdateCompletedEventAttributes?: {
    meta?: { updateId?: string };
    outcome?: { success?: { payloads?: Payload[] } };
  };
  activityTaskScheduledEventAttributes?: {
    activityType?: { name?: string };
    input?: { payloads?: Payload[] };
  };
}

const decode = (p: Payload | undefined): unknown => {
  if (!p?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'));
  } catch {
    return undefined;
  }
};

/** The patch IDs and operation kinds of one recorded history (its JSON object). */
export function historyCoverage(file: string, json: { events?: HistoryEvent[] }): HistoryCoverage {
  const events = json.events ?? [];
  const patches = new Set<string>();
  const ops = new Set<OperationKind>();
  const started = events[0]?.workflowExecutionStartedEventAttributes;
  const workflowType = started?.workflowType?.name ?? '';
  if (started?.continuedExecutionRunId) ops.add('continued-run');
  if (workflowType === 'hostStepsWorkflow') ops.add('child-history');
  const updates = new Map<string, { name: string; arg: unknown }>();
  const openUpdates = new Set<string>();
  let rolloutFailed = false;
  // A repair: the cluster's own work — an activity after the health watch ran, with no update
  // open and no restart signal since the last watch (those pause the watch too).
  let watched = false;
  let signalSinceWatch = false;
  for (const e of events) {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === 'core_patch') {
      const data = decode(marker.details?.['patch-data']?.payloads?.[0]) as { id?: string } | undefined;
      if (data?.id) patches.add(data.id);
    }
    const signal = e.workflowExecutionSignaledEventAttributes?.signalName;
    if (signal === 'restartServers') {
      ops.add('restart-signal');
      signalSinceWatch = true;
    }
    const accepted = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted) {
      const name = accepted.acceptedRequest?.input?.name ?? '';
      const arg = decode(accepted.acceptedRequest?.input?.args?.payloads?.[0]);
      const id = accepted.acceptedRequest?.meta?.updateId ?? accepted.protocolInstanceId ?? '';
      updates.set(id, { name, arg });
      openUpdates.add(id);
      if (name === 'applyPlan') ops.add('rollout');
      if (name === 'rollback') {
        // A rollback accepted while a rollout waits for the operator (it answered not ok).
        ops.add(rolloutFailed ? 'rollout-abandon' : 'rollback');
      }
      if (name === 'restartServersAndWait') ops.add('restart');
      if (name === 'setHealing') ops.add((arg as { enabled?: boolean })?.enabled ? 'heal-on' : 'heal-off');
      if (name === 'runPhases') ops.add('runPhases');
      if (name === 'retryFailed') ops.add('retry');
    }
    const completed = e.workflowExecutionUpdateCompletedEventAttributes;
    if (completed) {
      const update = updates.get(completed.meta?.updateId ?? '');
      openUpdates.delete(completed.meta?.updateId ?? '');
      const result = decode(completed.outcome?.success?.payloads?.[0]) as { ok?: boolean } | undefined;
      if (update?.name === 'applyPlan') rolloutFailed = result?.ok === false;
      if (update?.name === 'rollback') rolloutFailed = false;
    }
    switch (e.eventType) {
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW':
        ops.add('continue-as-new');
        break;
      case 'EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED':
        ops.add('child-workflow');
        break;
      case 'EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED':
        ops.add('cancel');
        break;
    }
    const activity = e.activityTaskScheduledEventAttributes;
    if (activity) {
      const type = activity.activityType?.name ?? '';
      if (type === 'writeRanktables') ops.add('ranktable');
      if (type === 'watchHealth') {
        watched = true;
        signalSinceWatch = false;
      } else if (watched && openUpdates.size === 0 && !signalSinceWatch) {
        ops.add('repair');
      }
    }
  }
  return { file, workflowType, patches, operations: ops };
}

export function recordedCoverage(dir = HISTORIES): HistoryCoverage[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => historyCoverage(f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))));
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    return d.isDirectory() ? sourceFiles(p) : d.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Every patch ID the workflow code uses: literal `patched('…')` / `patched("…")` calls, and the
 * string constants of a patch registry (src/workflows/patches.ts) once there is one.
 */
export function sourcePatchIds(dir = SRC_DIR): string[] {
  const ids = new Set<string>();
  for (const file of sourceFiles(dir)) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\b(?:patched|deprecatePatch)\(\s*(['"`])([^'"`]+)\1/g)) ids.add(m[2]!);
    if (path.basename(file) === 'patches.ts') {
      for (const m of text.matchAll(/['"]([a-z0-9]+(?:-[a-z0-9]+)+)['"]/g)) ids.add(m[1]!);
    }
  }
  return [...ids].sort();
}

/** A table: one row per name, one column per history file (its index), `x` where covered. */
export function coverageTable(
  rows: string[],
  covered: (row: string, h: HistoryCoverage) => boolean,
  hs: HistoryCoverage[],
): string {
  const width = Math.max(...rows.map((r) => r.length), 4);
  const lines = hs.map((h, i) => `  [${i + 1}] ${h.file}`);
  const head = `${''.padEnd(width)} | ${hs.map((_, i) => String(i + 1).padStart(2)).join(' ')} | files`;
  const body = rows.map((r) => {
    const marks = hs.map((h) => (covered(r, h) ? ' x' : ' .'));
    const n = marks.filter((m) => m === ' x').length;
    return `${r.padEnd(width)} | ${marks.join(' ')} | ${n === 0 ? 'MISSING' : n}`;
  });
  return [...lines, head, ...body].join('\n');
}

if (require.main === module) {
  const hs = recordedCoverage();
  console.log('patch IDs (marker recorded: the new-code branch) × histories');
  console.log(coverageTable(sourcePatchIds(), (id, h) => h.patches.has(id), hs));
  console.log('\noperation kinds × histories');
  console.log(coverageTable([...OPERATION_KINDS], (k, h) => h.operations.has(k as OperationKind), hs));
}
