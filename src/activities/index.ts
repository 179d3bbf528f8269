import { cleanupHost } from './cleanup';
import { syncCode } from './codeSync';
import { ensureContainer } from './container';
import type { ActivityDeps } from './deps';
import { awaitEnginesReady, launchEngines } from './engines';
import { copyImageArchive, loadImages } from './imageArchive';
import { awaitHostAnswers } from './hostWait';
import { fetchHostLogs, type FetchHostLogsInput } from './logs';
import { ping } from './ping';
import { preflight } from './preflight';
import { ensureProxy } from './proxy';
import { readDeviceIps, writeRanktables } from './ranktable';
import { endRelaySession } from './relay';
import { watchHealth } from './health';
import type {
  AwaitHostInput,
  CleanupInput,
  ContainerInput,
  CopyImageArchiveInput,
  LoadImagesInput,
  EndRelaySessionInput,
  EngineLaunchInput,
  EngineReadyInput,
  PreflightInput,
  ProxyInput,
  ReadDeviceIpsInput,
  SyncCodeInput,
  VerifyInput,
  WatchHealthInput,
  WriteRanktablesInput,
} from './types';
import { verifyCompletion } from './verify';

export { closeActivityDeps, createActivityDeps, type ActivityDeps } from './deps';

/**
 * Every activity the worker registers, bound to the worker's dependencies. The keys are the
 * activity type names in workflow histories: renaming one breaks every recorded run.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    ping,
    preflight: (input: PreflightInput) => preflight(deps, input),
    ensureContainer: (input: ContainerInput) => ensureContainer(deps, input),
    syncCode: (input: SyncCodeInput) => syncCode(deps, input),
    endRelaySession: (input: EndRelaySessionInput) => endRelaySession(deps, input),
    copyImageArchive: (input: CopyImageArchiveInput) => copyImageArchive(deps, input),
    loadImages: (input: LoadImagesInput) => loadImages(deps, input),
    cleanupHost: (input: CleanupInput) => cleanupHost(deps, input),
    readDeviceIps: (input: ReadDeviceIpsInput) => readDeviceIps(deps, input),
    writeRanktables: (input: WriteRanktablesInput) => writeRanktables(deps, input),
    fetchHostLogs: (input: FetchHostLogsInput) => fetchHostLogs(deps, input),
    launchEngines: (input: EngineLaunchInput) => launchEngines(deps, input),
    awaitEnginesReady: (input: EngineReadyInput) => awaitEnginesReady(deps, input),
    ensureProxy: (input: ProxyInput) => ensureProxy(deps, input),
    verifyCompletion: (input: VerifyInput) => verifyCompletion(deps, input),
    watchHealth: (input: WatchHealthInput) => watchHealth(deps, input),
    awaitHostAnswers: (input: AwaitHostInput) => awaitHostAnswers(deps, input),
  };
}

/**
 * The activities as workflows see them. Workflows import this as a type only
 * (`import type { Activities }`), so nothing of the activities enters the workflow sandbox.
 */
export type Activities = ReturnType<typeof createActivities>;
