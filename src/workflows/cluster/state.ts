import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import type { HostError } from '../common';
import type { Cell, ClusterEvent, ClusterStatus, HostFailure, Stage } from './types';

/** Events kept: enough to read what happened today, bounded for history and queries. */
const MAX_EVENTS = 200;

/**
 * Everything the cluster workflow knows, as plain data: it is the status query's answer, the
 * source of the Web UI details, and what continue-as-new carries to the next run.
 */
export interface ClusterStateData {
  status: ClusterStatus;
  /** `${step}|${host}` of every host step that finished; a re-run of a phase skips them. */
  doneSteps: string[];
  /** Results a later step needs (e.g. generated ranktables), keyed by step. Kept so a retry or a
   * resume re-uses the same bytes instead of regenerating different ones. */
  stepData: Record<string, unknown>;
  /** Phases still to run (carried across continue-as-new). */
  pendingPhases: Phase[];
  /** The most recent health changes and repairs (bounded), carried across continue-as-new. */
  events?: ClusterEvent[];
  /** The Plan in force before the last rollout that finished: what `deploy rollback` returns to. */
  previousPlan?: Plan;
  /**
   * The workflow build (`workflowInfo().currentBuildId`) this run started on: an idle cluster
   * continues as new when its worker runs another build (upgrade.ts).
   */
  buildId?: string;
}

/**
 * The one owner of the cluster's state. Every change goes through its methods, and each tells
 * the listener (the StatusPublisher, which shows the status in the Web UI when it changed).
 */
export class ClusterState {
  private readonly done: Set<string>;
  private listener: (status: ClusterStatus) => void = () => undefined;

  constructor(readonly data: ClusterStateData) {
    this.done = new Set(data.doneSteps);
  }

  /** Tell `listener` of the status now and after every change. */
  onChange(listener: (status: ClusterStatus) => void): void {
    this.listener = listener;
    listener(this.data.status);
  }

  private changed(): void {
    this.listener(this.data.status);
  }

  static fresh(
    cluster: string,
    hosts: string[],
    phases: Phase[],
    endpoints: Record<string, string>,
  ): ClusterState {
    return new ClusterState({
      status: {
        cluster,
        stage: 'deploying',
        phases: [...phases],
        hosts: [...hosts],
        table: Object.fromEntries(hosts.map((h) => [h, {}])),
        failures: [],
        endpoints,
        generation: 0,
      },
      doneSteps: [],
      stepData: {},
      pendingPhases: [...phases],
    });
  }

  /** Read-only by convention: change it through the methods below, which publish. */
  get status(): Readonly<ClusterStatus> {
    return this.data.status;
  }

  setHealth(health: ClusterStatus['health']): void {
    this.data.status.health = health;
    this.changed();
  }

  setHealing(healing: 'on' | 'off'): void {
    this.data.status.healing = healing;
    this.changed();
  }

  setEndpoints(endpoints: Record<string, string>): void {
    this.data.status.endpoints = endpoints;
    this.changed();
  }

  /** The running operation and those queued behind it (OperationQueue). */
  showOperations(running: ClusterStatus['operation'], queued: NonNullable<ClusterStatus['queued']>): void {
    this.data.status.operation = running;
    this.data.status.queued = queued;
    this.changed();
  }

  /** The next run of the chain (continue-as-new) counts one more. */
  nextGeneration(): void {
    this.data.status.generation += 1;
    this.changed();
  }

  setPreviousPlan(plan: Plan): void {
    this.data.previousPlan = plan;
  }

  setBuildId(buildId: string | undefined): void {
    this.data.buildId = buildId;
  }

  setStage(stage: Stage, phase?: Phase): void {
    this.data.status.stage = stage;
    this.data.status.currentPhase = phase;
    this.changed();
  }

  addPhases(phases: Phase[]): void {
    this.data.pendingPhases.push(...phases);
    for (const p of phases) this.showPhase(p);
    this.changed();
  }

  /** Give the phase a column in the table (cleanup after a cancel is not a planned phase). */
  showPhase(phase: Phase): void {
    if (!this.data.status.phases.includes(phase)) this.data.status.phases.push(phase);
    this.changed();
  }

  /**
   * A phase that runs again (a later `--tags` run) starts from scratch for every host, and what
   * its steps kept (e.g. generated ranktables) is regenerated: only a retry or a resume of the
   * same run reuses it.
   */
  resetPhase(phase: Phase, stepPrefix: string = phase): void {
    for (const key of [...this.done]) if (key.startsWith(`${stepPrefix}`)) this.done.delete(key);
    this.data.doneSteps = [...this.done];
    for (const key of Object.keys(this.data.stepData)) {
      if (key.startsWith(`${stepPrefix}.`)) delete this.data.stepData[key];
    }
    for (const row of Object.values(this.data.status.table)) delete row[phase];
    this.changed();
  }

  /** Make a finished step run again (its result turned out unusable). */
  forgetStep(step: string, host: string): void {
    this.done.delete(`${step}|${host}`);
    this.data.doneSteps = [...this.done];
  }

  isDone(step: string, host: string): boolean {
    return this.done.has(`${step}|${host}`);
  }

  cell(host: string, phase: Phase): Cell | undefined {
    return this.data.status.table[host]?.[phase];
  }

  private setCell(host: string, phase: Phase, cell: Cell): void {
    (this.data.status.table[host] ??= {})[phase] = cell;
  }

  /**
   * A cell shows the latest run of its step: a step already running keeps its start (its hosts
   * report progress more than once), any other starts a new run now (a repair, rollout, restart
   * or retry of a step that had ended), without the end or error of the run before.
   */
  markRunning(host: string, phase: Phase, now: number): void {
    const previous = this.cell(host, phase);
    this.setCell(host, phase, {
      state: 'running',
      startedAt: previous?.state === 'running' ? (previous.startedAt ?? now) : now,
      note: previous?.note,
    });
    this.changed();
  }

  /**
   * Once an operation has ended well nothing of it runs any more: a cell still `running` (a step
   * an operation marked for its whole span, like a repair's run_server) ends ok now.
   */
  settleRunningCells(now: number): void {
    for (const [host, row] of Object.entries(this.data.status.table)) {
      for (const [phase, c] of Object.entries(row)) {
        if (c?.state === 'running') this.setCell(host, phase as Phase, { ...c, state: 'ok', endedAt: now });
      }
    }
    this.changed();
  }

  markStepDone(step: string, host: string, phase: Phase, now: number, note?: string): void {
    this.done.add(`${step}|${host}`);
    this.data.doneSteps.push(`${step}|${host}`);
    const previous = this.cell(host, phase);
    this.setCell(host, phase, {
      state: 'running',
      startedAt: previous?.startedAt ?? now,
      note: note ?? previous?.note,
    });
    this.changed();
  }

  markFailed(host: string, phase: Phase, now: number, error: HostError): void {
    const previous = this.cell(host, phase);
    this.setCell(host, phase, {
      state: 'failed',
      startedAt: previous?.startedAt ?? now,
      endedAt: now,
      error,
    });
    this.changed();
  }

  /** Close every cell of the phase that is still running (all its steps are done). */
  finishPhase(phase: Phase, hosts: string[], now: number): void {
    for (const host of hosts) {
      const c = this.cell(host, phase);
      if (c?.state === 'running') this.setCell(host, phase, { ...c, state: 'ok', endedAt: now });
    }
    this.changed();
  }

  markSkipped(host: string, phase: Phase, note: string): void {
    this.setCell(host, phase, { state: 'skipped', note });
    this.changed();
  }

  failuresOf(phase: Phase): HostFailure[] {
    return Object.entries(this.data.status.table).flatMap(([host, row]) => {
      const c = row[phase];
      return c?.state === 'failed' && c.error ? [{ host, phase, ...c.error }] : [];
    });
  }

  setFailures(failures: HostFailure[]): void {
    this.data.status.failures = failures;
    this.changed();
  }

  takeNextPhase(): Phase | undefined {
    return this.data.pendingPhases.shift();
  }

  get pendingPhases(): readonly Phase[] {
    return this.data.pendingPhases;
  }

  get events(): readonly ClusterEvent[] {
    return this.data.events ?? [];
  }

  addEvent(event: ClusterEvent): void {
    const events = (this.data.events ??= []);
    events.push(event);
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
    this.changed();
  }

  stepData<T>(key: string): T | undefined {
    return this.data.stepData[key] as T | undefined;
  }

  /** `undefined` forgets the key. */
  setStepData(key: string, value: unknown): void {
    if (value === undefined) delete this.data.stepData[key];
    else this.data.stepData[key] = value;
  }

  /**
   * The cluster's hosts changed (a rollout added or removed some): rows for new hosts, none for
   * removed ones, in the new Plan's order.
   */
  setHosts(hosts: string[]): void {
    const table = this.data.status.table;
    for (const h of hosts) table[h] ??= {};
    for (const h of Object.keys(table)) if (!hosts.includes(h)) delete table[h];
    this.data.status.hosts = [...hosts];
    this.changed();
  }
}
