import type { PlanInput } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import type { RestartRequest } from './messages';
import type { ClusterState } from './state';
import type { HostFailure, OperationInfo } from './types';

export interface OperationOutcome {
  ok: boolean;
  failures: HostFailure[];
  /** Rollouts: whether anything changed, and the decode outage window. */
  changed?: boolean;
  decodeOutageMs?: number;
}

/** Work asked for while the cluster runs: phases by tag (maybe with a new Plan), or a restart. */
export type OperationRequest =
  | { kind: 'phases'; phases: Phase[]; plan?: PlanInput }
  | { kind: 'restart'; request: RestartRequest }
  /** Raised by the health watch, not by an operator: nobody waits for its answer. */
  | { kind: 'heal'; unit: string }
  /** A new Plan (or the previous one, for a rollback) applied unit by unit. */
  | { kind: 'rollout'; plan: Plan; rollback: boolean };

export type Operation = OperationRequest & {
  info: OperationInfo;
  /** Set once its caller may be answered; the request handler waits for it. */
  outcome?: OperationOutcome;
};

export function describeRestart(r: RestartRequest): string {
  const who = [...(r.roles ?? []), ...(r.hosts ?? [])].join(', ') || 'all engines';
  return `restart ${who}${r.syncCode ? ' (code sync first)' : ''}`;
}

/**
 * Operations, done one at a time in arrival order: two phase runs or restarts interleaving on the
 * same hosts would race each other's containers and engines. The status shows the one running and
 * those queued behind it, so an operator sees why a request has not started yet.
 */
export class OperationQueue {
  /** In arrival order; the running one stays first until it is finished. */
  private readonly operations: Operation[] = [];
  private running: Operation | undefined;

  constructor(private readonly state: ClusterState) {}

  get hasWork(): boolean {
    return this.operations.length > 0;
  }

  add(request: OperationRequest, what: string): Operation {
    const op: Operation = { ...request, info: { kind: request.kind, what, requestedAt: Date.now() } };
    this.operations.push(op);
    this.show();
    return op;
  }

  /** The kind of the operation running now. */
  get runningKind(): Operation['kind'] | undefined {
    return this.running?.kind;
  }

  /** Whether a repair of `unit` is queued or running. */
  hasRepair(unit: string): boolean {
    return this.operations.some((o) => o.kind === 'heal' && o.unit === unit);
  }

  /** Drop queued repairs (healing was turned off); a running one finishes. */
  dropQueuedRepairs(): void {
    for (let i = this.operations.length - 1; i >= 0; i--) {
      const op = this.operations[i]!;
      if (op.kind === 'heal' && op !== this.running) this.operations.splice(i, 1);
    }
    this.show();
  }

  /** A new description of the running operation (a repair's attempts). */
  describeRunning(what: string): void {
    if (this.running) this.running.info = { ...this.running.info, what };
    this.show();
  }

  /** The next operation, now shown as running; undefined when none waits. */
  start(): Operation | undefined {
    const op = this.operations[0];
    if (!op) return undefined;
    this.running = op;
    this.show();
    return op;
  }

  /** The running operation is done: answer it (unless it was answered early) and drop it. */
  finish(outcome: OperationOutcome): void {
    this.running!.outcome ??= outcome;
    this.operations.shift();
    this.running = undefined;
    this.show();
  }

  /**
   * The running operation's phase waits for the operator: its caller is answered now rather than
   * when the operator acts. Only that one: an operation still queued has not run, and answering it
   * would let its caller believe it failed while it runs later.
   */
  answerRunningEarly(outcome: OperationOutcome): void {
    if (this.running && !this.running.outcome) this.running.outcome = outcome;
  }

  private show(): void {
    this.state.showOperations(
      this.running?.info,
      this.operations.filter((o) => o !== this.running).map((o) => o.info),
    );
  }
}
