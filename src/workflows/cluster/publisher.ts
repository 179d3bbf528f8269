import { setCurrentDetails, upsertSearchAttributes } from '@temporalio/workflow';
import { DEPLOY_HEALTH, DEPLOY_PHASE } from '../../shared/searchAttributes';
import { renderDetails } from './details';
import type { ClusterStatus } from './types';

/** Where the status is shown: the Web UI's current details and the run's search attributes. */
export interface StatusSinks {
  details(markdown: string): void;
  attribute(key: typeof DEPLOY_PHASE | typeof DEPLOY_HEALTH, value: string): void;
}

const WORKFLOW_SINKS: StatusSinks = {
  details: setCurrentDetails,
  attribute: (key, value) => upsertSearchAttributes([{ key, value }]),
};

/**
 * Shows the cluster's status in the Web UI: the current details (a host × phase table) and the
 * search attributes DeployPhase (the phase running, else the stage) and DeployHealth (set once a
 * health watch has judged the cluster, so runs without one never touch it: it lets the Web UI
 * list degraded or down clusters). ClusterState calls `publish` after every change; each sink is
 * written only when its value changed, so an attribute upsert lands in history only on a change.
 * Attributes are upserted at once (an upsert is a command: it keeps its place among the others);
 * the details (not a command, and a table of every host) are rendered once per burst of changes,
 * in a microtask.
 */
export class StatusPublisher {
  private details = '';
  private phase = '';
  private health = '';
  private detailsQueued = false;

  constructor(private readonly sinks: StatusSinks = WORKFLOW_SINKS) {}

  publish(status: Readonly<ClusterStatus>): void {
    if (!this.detailsQueued) {
      this.detailsQueued = true;
      void Promise.resolve().then(() => {
        this.detailsQueued = false;
        this.showDetails(status);
      });
    }
    const phase = status.currentPhase ?? status.stage;
    if (phase !== this.phase) {
      this.sinks.attribute(DEPLOY_PHASE, phase);
      this.phase = phase;
    }
    const health = status.health?.state;
    if (health !== undefined && health !== this.health) {
      this.sinks.attribute(DEPLOY_HEALTH, health);
      this.health = health;
    }
  }

  private showDetails(status: Readonly<ClusterStatus>): void {
    const details = renderDetails(status);
    if (details !== this.details) {
      this.sinks.details(details);
      this.details = details;
    }
  }
}
