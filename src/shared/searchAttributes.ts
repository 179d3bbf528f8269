import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Search attributes the workflows set, so the Web UI and `deploy list` can find clusters. */
export const DEPLOY_CLUSTER = defineSearchAttributeKey('DeployCluster', SearchAttributeType.KEYWORD);
export const DEPLOY_PHASE = defineSearchAttributeKey('DeployPhase', SearchAttributeType.KEYWORD);

/** serving / degraded / down, once the health watch has judged the cluster. */
export const DEPLOY_HEALTH = defineSearchAttributeKey('DeployHealth', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTES = [DEPLOY_CLUSTER, DEPLOY_PHASE, DEPLOY_HEALTH] as const;

/** `Name=Type` pairs for `temporal server start-dev --search-attribute`. */
export function searchAttributeFlags(): string[] {
  const typeName: Record<string, string> = {
    [SearchAttributeType.KEYWORD]: 'Keyword',
    [SearchAttributeType.TEXT]: 'Text',
    [SearchAttributeType.INT]: 'Int',
    [SearchAttributeType.DOUBLE]: 'Double',
    [SearchAttributeType.BOOL]: 'Bool',
    [SearchAttributeType.DATETIME]: 'Datetime',
    [SearchAttributeType.KEYWORD_LIST]: 'KeywordList',
  };
  return SEARCH_ATTRIBUTES.flatMap((k) => ['--search-attribute', `${k.name}=${typeName[k.type]}`]);
}
