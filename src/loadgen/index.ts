export {
  runLoad,
  failureCause,
  MAX_CONCURRENCY,
  MAX_DURATION_MS,
  MAX_REQUESTS,
  MAX_TIMEOUT_MS,
} from './runLoad';
export { checkLoadTarget } from './target';
export { failureWindow, latencySummary, type FailureWindow } from './stats';
export type { LatencySummary, LoadOptions, LoadReport, Sample } from './types';
