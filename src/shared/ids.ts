/** The cluster workflow's ID: one running workflow per cluster is also the deploy lock. */
export function clusterWorkflowId(cluster: string): string {
  return `cluster/${cluster}`;
}

export function clusterFromWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith('cluster/') ? workflowId.slice('cluster/'.length) : undefined;
}
