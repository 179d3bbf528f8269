import type { QueryDefinition, SignalDefinition, UpdateDefinition } from '@temporalio/common';
import type { PlanInput } from '../../plan/compact';
import type { Plan } from '../../plan/types';
import type { Phase } from '../../shared/phases';
import type { ClusterEvent, ClusterStatus, HostFailure } from './types';

/*
 * The cluster workflow's messages, shared by the workflow (setHandler) and the CLI (query, signal,
 * update). A definition is only a name and a kind — what @temporalio/workflow's define* functions
 * return — so they are built here without loading the workflow library: `deploy status` then
 * loads nothing of the workflow side.
 */
const defineQuery = <Ret, Args extends unknown[] = []>(name: string) =>
  ({ type: 'query', name }) as QueryDefinition<Ret, Args>;
const defineUpdate = <Ret, Args extends unknown[] = []>(name: string) =>
  ({ type: 'update', name }) as UpdateDefinition<Ret, Args>;
const defineSignal = <Args extends unknown[] = []>(name: string) =>
  ({ type: 'signal', name }) as SignalDefinition<Args>;

/** Per host × phase state, timings, errors and endpoints. */
export const statusQuery = defineQuery<ClusterStatus>('status');

/** What the cluster noticed and did by itself (health changes, repairs), oldest first. */
export const eventsQuery = defineQuery<ClusterEvent[]>('events');

/** The Plan in force (what `deploy diff` compares an inventory with). */
export const planQuery = defineQuery<Plan>('plan');

export interface RolloutOutcome {
  ok: boolean;
  /** Whether anything had to change. */
  changed: boolean;
  failures: HostFailure[];
  /** The decode instance's window without service, when it was rolled. */
  decodeOutageMs?: number;
}

/**
 * Apply an edited inventory to the running cluster as a rollout (units one at a time, drained
 * from the proxy); answers when it is done or waits for the operator.
 */
export const applyPlanUpdate = defineUpdate<RolloutOutcome, [{ plan: Plan }]>('applyPlan');

/** Back to the Plan in force before the last rollout, by the same rollout. */
export const rollbackUpdate = defineUpdate<RolloutOutcome>('rollback');

/** Turn self-healing on or off; answers with the new setting. */
export const setHealingUpdate = defineUpdate<{ healing: 'on' | 'off' }, [{ enabled: boolean }]>('setHealing');

export interface RetryOutcome {
  phase: Phase;
  ok: boolean;
  failures: HostFailure[];
}

/** Re-run the failed hosts of the phase that waits for the operator; answers once it settled. */
export const retryFailedUpdate = defineUpdate<RetryOutcome>('retryFailed');

export interface RunPhasesRequest {
  phases: Phase[];
  /**
   * The inventory as it is now: replaces the cluster's Plan before the phases run (same hosts).
   * A full Plan, or the compact one the CLI sends (src/plan/compact.ts).
   */
  plan?: PlanInput;
}

export interface RunPhasesOutcome {
  phases: Phase[];
  ok: boolean;
  failures: HostFailure[];
}

/** Run phases (by tag) on the running cluster workflow, e.g. a second `deploy start --tags sync_code`. */
export const runPhasesUpdate = defineUpdate<RunPhasesOutcome, [RunPhasesRequest]>('runPhases');

export interface RestartRequest {
  roles?: ('prefill' | 'decode')[];
  hosts?: string[];
  syncCode?: boolean;
}

/** Restart engine servers (fire and forget); the update of the same name answers when ready. */
export const restartServersSignal = defineSignal<[RestartRequest]>('restartServers');

export interface RestartOutcome {
  hosts: string[];
  ok: boolean;
  failures: HostFailure[];
}

/** Restart engine servers and answer once they are ready again (or failed). */
export const restartServersUpdate = defineUpdate<RestartOutcome, [RestartRequest]>('restartServersAndWait');
