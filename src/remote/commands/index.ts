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
  listFiles,
  makeFolders,
  missingPaths,
  parseFileList,
  parseMissingPaths,
  readFile,
  removeFiles,
  runScript,
  runScriptIfPresent,
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
export { deviceIp } from './npu';
export { childPids, deadPids, parseDeadPids, parsePids, pidFileAlive } from './processes';
export { parseUpstreams, requestLogLines } from './proxy';
