export { renderLaunchScript } from './launchScript';
export { renderStopScript, stopSpecFor } from './stopScript';
export { engineEnvironment } from './environment';
export { kvTransferConfig, vllmServeArgs } from './vllmArgs';
export {
  MANIFEST_FILE,
  SERVER_START_MARKER,
  manifestFile,
  rayLogFile,
  serverLogFile,
  serverPidFile,
  launchRuntimeFiles,
} from './files';
export type * from './types';
