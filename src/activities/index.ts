/**
 * Every activity the worker registers. Workflows import this module as a type only
 * (`import type * as activities`), so nothing here enters the workflow sandbox.
 */
export { ping } from './ping';
export { preflight } from './preflight';
export { ensureContainer } from './container';
export { syncCode } from './codeSync';
export { cleanupHost } from './cleanup';
export { readDeviceIps, writeRanktables } from './ranktable';
export { fetchHostLogs } from './logs';
export { launchEngines, awaitEnginesReady } from './engines';
export { ensureProxy } from './proxy';
export { verifyCompletion } from './verify';
export { watchHealth } from './health';
