import type * as workflows from '../workflows';

/*
 * The CLI starts workflows by their type name, never by importing the workflow functions: that
 * would load the workflow code and @temporalio/workflow into every command. The names are checked
 * against src/workflows' exports at compile time, and the functions' types still type the
 * arguments.
 */

export const DEPLOY_CLUSTER_WORKFLOW = 'deployCluster' satisfies keyof typeof workflows;
export type DeployClusterWorkflow = typeof workflows.deployCluster;

export const FETCH_LOGS_WORKFLOW = 'fetchLogsWorkflow' satisfies keyof typeof workflows;
export type FetchLogsWorkflow = typeof workflows.fetchLogsWorkflow;
