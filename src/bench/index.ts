export { runBench, type BenchReport } from './run';
export type { BenchOptions, BenchProgress } from './options';
export type { RequestOutcome } from './metrics';
export type { BenchResult } from './result';
export { formatReport } from './report';
