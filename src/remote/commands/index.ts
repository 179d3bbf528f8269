/**
 * Remote commands as argv, apart from running them (as Kamal builds its commands): every snippet
 * an activity runs on a host or in a container is a named builder here, with the parser of its
 * output beside it. Values never enter shell text: a script is a constant that reads its values
 * as "$1"…, so an inventory string stays one literal word however hostile.
 */
export { logSinceLastStart, parseReadyPorts, probeApiServers } from './apiServers';
export {
  fileExists,
  folderExists,
  installFiles,
  listFiles,
  makeFolders,
  missingPaths,
  packFiles,
  parseFileList,
  parseInstalledFiles,
  parseMissingPaths,
  readFile,
  removeFiles,
  runScript,
  runScriptIfPresent,
  type InstalledFiles,
} from './files';
export {
  freeSpace,
  listeningTcp,
  ownsAddress,
  parseFreeSpace,
  parseListeningPorts,
  type FreeSpace,
} from './hostChecks';
export { httpGet, parseHttpAnswer, postJson, type HttpAnswer } from './http';
export { deviceIp, deviceIps, parseDeviceIps } from './npu';
export { childPids, deadPids, parseDeadPids, parsePids, pidFileAlive } from './processes';
export { parseUpstreams, requestLogLines } from './proxy';
export {
  authorizeKey,
  checkSession,
  parseRelayFolder,
  placeRelayKey,
  RELAY_HOME_FOLDER,
  RELAY_KEY_MARK,
  relayKeyLine,
  removeRelayFolders,
  revokeKeys,
} from './relay';
