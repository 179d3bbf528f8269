/**
 * The worker's `workflowsPath`. Explicit re-exports only: every workflow type the server may
 * dispatch must be named here (a test checks each one resolves).
 */
export { roundTrip } from './roundTrip';
export { deployCluster } from './cluster/deployCluster';
export { hostStepsWorkflow } from './cluster/hostStepsWorkflow';
export { fetchLogsWorkflow } from './fetchLogs';
