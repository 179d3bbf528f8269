/**
 * The simulated cluster, as the CLI (`deploy sim`, `deploy demo`), tests and benchmarks use it:
 * the one way in. The modules behind it each hold one concern (see sim/README.md, "From
 * TypeScript"); nothing outside sim/ imports them directly.
 */
export { loadImagesScript, parseSimEngine, type SimEngine } from './containerEngine';
export { defaultDevices, defaultDeviceTable, deviceTableText, type NpuDevice } from './devices';
export { SIM_MODEL_PATH } from './disks';
export { powerOffHost, rebootHost, setDeviceTable, setEngineKnobs, setLink } from './faults';
export {
  hostsForCount,
  hostsFromInventory,
  simContext,
  type HostState,
  type SimContext,
  type SimHostSpec,
  type SimHostStatus,
} from './hosts';
export { IMAGE_STORE, LATEST_IMAGES, ensureImages, simImages, withSimImages, type SimImages } from './images';
export { sshOptions } from './keys';
export { simDown, simStatus, simUp, type SimCluster, type UpOptions } from './lifecycle';
export { hostExec } from './processes';
export { clusterFiles } from './state';
