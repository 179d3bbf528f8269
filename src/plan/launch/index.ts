export { renderLaunchScript } from './launchScript';
export { renderStopScript, stopSpecFor } from './stopScript';
export { engineEnvironment } from './environment';
export { kvTransferConfig, vllmServeArgs } from './vllmArgs';
export { MANIFEST_FILE, manifestFile, rayLogFile, serverLogFile, serverPidFile } from './files';
export type * from './types';
