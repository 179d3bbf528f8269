export { buildPlan } from './plan';
export { dockerRunArgv, containerSpecHash, SPEC_HASH_LABEL } from './dockerRun';
export { listeningPorts, decodeApiServers } from '../inventory/ports';
export type * from './types';
