export { RanktableError } from './errors';
export { parseHccnIpOutput, type HccnIpConfig, type HccnContext } from './hccn';
export {
  localRanktable,
  localRanktableFileName,
  type LocalRanktableHost,
  type LocalRanktables,
} from './local';
export { mergeLocal, mergeAll, type MergeAllInput, MERGED_LOCAL_FILE, GLOBAL_FILE } from './merge';
export { toPythonJson } from './pythonJson';
export {
  bareLayout,
  collectedAs,
  deviceIpsOf,
  ranktableDistribution,
  ranktableInputFromIps,
  type DeviceIps,
  type OwnRanktableFile,
  type RanktableDistribution,
} from './distribution';
export {
  buildRanktables,
  type RanktableBuild,
  type RanktableFile,
  type RanktableSummary,
  type RanktableGroupSummary,
} from './build';
export type {
  RanktableLayout,
  RanktableHost,
  PrefillInstanceLayout,
  DecodeInstanceLayout,
  HccnProbe,
  RanktableInput,
} from './layout';
export type * from './types';
