import type { Phase } from '../../shared/phases';
import type { HostError } from '../common';
import type { ClusterHealth } from './health';

/** One cell of the host × phase table the status query and the Web UI show. */
export type CellState = 'pending' | 'running' | 'ok' | 'failed' | 'skipped';

export interface Cell {
  state: CellState;
  startedAt?: number;
  endedAt?: number;
  /** What the step did ("kept container 3f2a…", "12 KiB synced"). */
  note?: string;
  error?: HostError;
}

export interface HostFailure extends HostError {
  host: string;
  phase: Phase;
}

export type Stage =
  | 'deploying' // running the selected phases
  | 'waiting-for-operator' // a phase failed on some hosts; `deploy retry` or `deploy down`
  | 'ready' // all phases done; the workflow stays up as the cluster's durable entity
  | 'healing' // repairing a unit that stopped serving, without an operator
  | 'rolling-out' // applying a changed Plan unit by unit
  | 'cleaning' // cleanup after cancellation or the clean_up phase
  | 'cleaned';

export interface ActivityTuning {
  /** Per attempt. Remote steps heartbeat, so a lost worker is noticed after `heartbeatTimeout`. */
  startToCloseTimeout: string;
  heartbeatTimeout: string;
  retry: {
    initialInterval: string;
    backoffCoefficient: number;
    maximumInterval: string;
    maximumAttempts: number;
  };
}

export interface DeployOptions {
  /** Phases to run on start, already resolved from tags (see selectPhases). */
  phases: Phase[];
  /** Most hosts worked on at once within one phase (Ansible's default is 5). */
  parallelism: number;
  /** Task queue of the executor machine (local-disk activities: code sync source, log destination). */
  executorTaskQueue: string;
  activity: ActivityTuning;
  /** Continue-as-new once the history has this many events while idle or between phases. */
  maxHistoryEvents: number;
  /** The health watch and self-healing once ready; absent in runs started before they existed. */
  health?: HealthOptions;
  /** When a step's hosts go to a child workflow (default DEFAULT_CHILD_STEPS). */
  childSteps?: ChildStepOptions;
}

export interface ChildStepOptions {
  /** A step over more hosts than this runs in a child workflow. */
  minHosts: number;
}

/**
 * Up to 32 hosts a step runs in the cluster workflow itself (a full deploy of 32 hosts is ~2 000
 * events there); beyond, in a child workflow per step (test/workflow/scaleHistory.test.ts: every
 * run's history stays far below Temporal's limits at 512 hosts × 16 devices).
 */
export const DEFAULT_CHILD_STEPS: ChildStepOptions = { minHosts: 32 };

export interface HealthOptions {
  /** Probe the hosts this often once the cluster is ready; 0 turns the watch off. */
  intervalMs: number;
  /** A host that does not answer its probe within this is unreachable. */
  probeTimeoutMs: number;
  /** A watch with nothing to report returns after this long (a continue-as-new may be due). */
  maxWatchMs: number;
  /** Repair units that stopped serving without an operator (`deploy heal off` pauses it). */
  heal: boolean;
  /** Repair attempts per incident before the cluster waits for the operator. */
  healAttempts: number;
  /** Waits before the 2nd, 3rd… attempt; the last one repeats. */
  healBackoffMs: number[];
}

export const DEFAULT_HEALTH: HealthOptions = {
  intervalMs: 10_000,
  probeTimeoutMs: 5_000,
  maxWatchMs: 3_600_000,
  heal: true,
  healAttempts: 4,
  healBackoffMs: [5_000, 30_000, 90_000],
};

/** Something the cluster noticed or did by itself, for `deploy events` and the Web UI. */
export interface ClusterEvent {
  at: number;
  kind: 'health' | 'heal' | 'healing' | 'rollout';
  /** The unit it concerns (`decode-0`), if any. */
  unit?: string;
  message: string;
  result?: 'started' | 'ok' | 'failed' | 'exhausted' | 'waiting';
}

export const DEFAULT_ACTIVITY_TUNING: ActivityTuning = {
  startToCloseTimeout: '40 minutes',
  heartbeatTimeout: '20 seconds',
  retry: {
    initialInterval: '1 second',
    backoffCoefficient: 2,
    maximumInterval: '30 seconds',
    maximumAttempts: 5,
  },
};

/** An operator's request to the running cluster, as the status shows it. */
export interface OperationInfo {
  kind: 'phases' | 'restart' | 'heal' | 'rollout';
  /** What it does, e.g. "run_server → run_proxy" or "restart decode". */
  what: string;
  /** When the workflow received it (ms since the epoch). */
  requestedAt: number;
}

export interface ClusterStatus {
  cluster: string;
  stage: Stage;
  currentPhase?: Phase;
  /** Phases this run has executed or will execute, in order. */
  phases: Phase[];
  hosts: string[];
  table: Record<string, Partial<Record<Phase, Cell>>>;
  /**
   * Failures of the phase waiting for the operator; once cleaned after a cancel, the hosts the
   * cleanup failed on. Empty otherwise.
   */
  failures: HostFailure[];
  endpoints: Record<string, string>;
  /** How many times this cluster's workflow has continued as new. */
  generation: number;
  /** The operation running now, if any (absent for the first deploy). */
  operation?: OperationInfo;
  /** What the health watch last saw, judged per unit (absent until the first observation). */
  health?: ClusterHealth;
  /** Whether self-healing is on (`deploy heal on|off`). */
  healing?: 'on' | 'off';
  /** Operations waiting for the current work to finish, in the order they will run. */
  queued?: OperationInfo[];
}
