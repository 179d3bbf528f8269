/**
 * Inputs and results of the host activities. Small and secret-free by construction: they name
 * hosts, files and containers; passwords are only referenced (the worker resolves them), so the
 * workflow history — readable by anyone with Web UI access — never holds one.
 */

import type { Owner } from '../remote/ownership';
import type { HostObservation } from '../shared/observation';
import type { DeviceIps, OwnRanktableFile, RanktableLayout } from '../plan/ranktable';
import type { ContainerCli, HostRef } from '../shared/host';

export type { ContainerCli, HostRef, Owner };

export interface PreflightInput {
  target: HostRef;
  cli: ContainerCli;
  image: string;
  /** P/D hosts: the model folder must exist on the host. */
  modelPath?: string;
  /** Device nodes that must exist (`/dev/davinci_manager`, …, `/dev/davinci<N>`). */
  devicePaths: string[];
  /** TCP ports our services will listen on; each must be free or held by our own container. */
  ports: number[];
  /** Folders that need free space, with the minimum in bytes. */
  disk: { path: string; minFreeBytes: number }[];
  /** Containers this deploy owns on the host (ports they hold are not a conflict). */
  ownContainers: string[];
  /** The image comes from this archive (image_archive), loaded by run_docker: not pulled here. */
  imageArchive?: string;
}

export interface PreflightCheck {
  check: string;
  ok: boolean;
  detail: string;
}

export interface ContainerInput {
  target: HostRef;
  cli: ContainerCli;
  name: string;
  image: string;
  /** Arguments after `docker run`, from the pure generator, ending with image and command. */
  runArgs: string[];
  /** Deterministic hash of the spec, also set as a label; equal hash = nothing to do. */
  specHash: string;
  owner: Owner;
  /**
   * Working folders the container bind-mounts, created first (podman, unlike Docker, will not).
   * `keepDirs` (LOG_PATH, CODE_PATH) stay after cleanup, as the seed keeps logs and code;
   * `ownedDirs` (SCRIPTS_PATH, ranktable_save_path) are managed roots: what this creates there is
   * recorded and removed by cleanup.
   */
  keepDirs: string[];
  ownedDirs: string[];
}

export interface ContainerResult {
  action: 'kept' | 'started' | 'created' | 'replaced';
  id: string;
}

export interface SyncCodeInput {
  target: HostRef;
  /** Folder on the executor machine (the activity runs on its task queue). */
  localPath: string;
  remotePath: string;
  /** The in-container install step, run only when the synced content changed. */
  install?: { cli: ContainerCli; container: string; command: string };
  /**
   * Copy from this host, which has the tree at remotePath already, instead of from the executor
   * (the fan-out of src/plan/syncWaves.ts); `session` names the relay key (src/activities/relay.ts).
   */
  relay?: { source: HostRef; session: string };
}

export interface SyncCodeResult {
  changed: boolean;
  bytesSent: number;
  installed: boolean;
  /** Where the step's time went: the copy (folders, keys, rsync), then the install check and step. */
  copyMs?: number;
  installMs?: number;
}

export interface CopyImageArchiveInput {
  target: HostRef;
  /** The archive on the executor (image_archive). */
  localFile: string;
  /** The folder on the host it goes to, under its own name. */
  remoteDir: string;
  /** From this host, which has it already, instead of from the executor (see SyncCodeInput). */
  relay?: { source: HostRef; session: string };
}

export interface CopyImageArchiveResult {
  changed: boolean;
  bytesSent: number;
  copyMs: number;
}

export interface LoadImagesInput {
  target: HostRef;
  cli: ContainerCli;
  /** The images this host's containers run: loaded from `archive` unless all are present. */
  images: string[];
  archive: string;
}

export interface LoadImagesResult {
  /** Whether `docker load` ran (false: every image was there). */
  loaded: boolean;
}

export interface EndRelaySessionInput {
  session: string;
  /** Hosts the session's key was placed on (or may have been). */
  senders: HostRef[];
  /** Hosts whose authorized_keys took (or may have taken) the session's key. */
  receivers: HostRef[];
}

export interface EndRelaySessionResult {
  /** Hosts cleaned (each sender and receiver counts once per role). */
  cleaned: number;
  /** Hosts that could not be reached: clean_up removes what is left there. */
  unreachable: { host: string; message: string }[];
}

export interface CleanupInput {
  target: HostRef;
  cli: ContainerCli;
  containers: string[];
  /** Stop scripts run_server wrote (they stop exactly the process groups it started); each is
   * run in the container, when present, before the container goes. */
  stopScripts: string[];
  /** Whose recorded files and folders go (src/remote/ownership.ts); nothing else is removed. */
  owner: Owner;
  /**
   * Files the tool placed outside its manifest that go too: the copied image archive when
   * `image_archive_on_down: remove` (absent: none).
   */
  files?: string[];
}

export interface CleanupResult {
  removedContainers: string[];
  stopScriptsRun: number;
  removedFiles: number;
  removedDirs: number;
  /** Entries still in use (a folder with someone else's files in it). */
  kept: number;
}

export interface ReadDeviceIpsInput {
  target: HostRef;
  cli: ContainerCli;
  /** The seed runs hccn_tool inside the host's container (it bind-mounts the tool and its config). */
  container: string;
  devices: number[];
}

export interface DeviceIpOutput {
  device: number;
  /** Raw `hccn_tool -i <device> -ip -g` output (stdout, or stderr when it failed): parsed by the
   * pure ranktable code so errors can quote it. */
  output: string;
}

export interface RanktableFileWrite {
  /** Relative to `root`, e.g. `global/global_ranktable_merge.json`. */
  path: string;
  content: string;
}

export interface WriteRanktablesInput {
  target: HostRef;
  owner: Owner;
  /** ranktable_save_path on the host. */
  root: string;
  /**
   * The files with their bytes (runs started before the ranktables were content-addressed, and
   * small clusters' history still reads so). Exactly one of `files`, `build`, `copy` is set.
   */
  files?: RanktableFileWrite[];
  /**
   * The coordinator's write: build the whole set here from the device IPs (pure code, the same the
   * workflow validated with), write this host's files and the shared `global/` folder with an
   * index of its content; the result names the set by the index's sha256.
   */
  build?: { layout: RanktableLayout; deviceIps: DeviceIps };
  /** Every other host's write: the shared folder copied from the coordinator by content address. */
  copy?: { source: HostRef; hash: string };
  /** With `build` or `copy`: this host's own files, each a copy of a shared one. */
  own?: OwnRanktableFile[];
}

export interface WriteRanktablesResult {
  written: number;
  unchanged: number;
  removedStale: number;
  /** Inline `files` only: sha256 per path, as verified on the host after writing. */
  sha256?: Record<string, string>;
  /** `build` and `copy`: the content address of the shared folder written (and verified). */
  hash?: string;
  /** `build`: files and bytes of the shared folder. */
  shared?: { files: number; bytes: number };
}

export interface EngineLaunchInput {
  target: HostRef;
  cli: ContainerCli;
  container: string;
  /** Scripts go to SCRIPTS_PATH on the host, which the container mounts at the same path. */
  launchScriptPath: string;
  launchScript: string;
  stopScriptPath: string;
  stopScript: string;
  runDir: string;
  owner: Owner;
  /** SCRIPTS_PATH: the managed root the scripts and the run folder live under. */
  scriptsRoot: string;
  /** Files the launch and stop scripts create in the run folder (pid files, servers.json…). */
  runtimeFiles: string[];
  /** Restart even when the same script's servers are alive (the restart operation). */
  force: boolean;
}

export interface LaunchedEngine {
  rank: number;
  dpRank: number;
  port: number;
  pid: number;
  log: string;
}

export interface EngineLaunchResult {
  action: 'started' | 'kept' | 'restarted';
  servers: LaunchedEngine[];
}

export interface EngineReadyInput {
  target: HostRef;
  cli: ContainerCli;
  container: string;
  runDir: string;
  /** Where the API servers answer (the host's inventory address). */
  address: string;
  servedModelName: string;
  budgetMs: number;
  pollMs?: number;
}

export interface EngineReadyResult {
  servers: number;
  waitedMs: number;
}

export interface ProxyInput {
  target: HostRef;
  cli: ContainerCli;
  container: string;
  confPath: string;
  conf: string;
  njsPath: string;
  njs: string;
  configHash: string;
  logDir: string;
  runDir: string;
  owner: Owner;
  /** SCRIPTS_PATH: the managed root of the config, run and temp folders. */
  scriptsRoot: string;
  /** nginx's temp folders (in the run folder), made by us so cleanup knows them. */
  tempDirs: string[];
  /** Files nginx and this step create in the run folder (pid file, config hash). */
  runtimeFiles: string[];
  commands: Record<'test' | 'start' | 'reload' | 'quit', string[]>;
  healthUrl: string;
  /**
   * After a reload, wait up to this long for the old nginx workers to finish their requests and
   * exit (a rollout drains an upstream before restarting it).
   */
  awaitDrainMs?: number;
  /** A /health that answers "down" (503) is enough: reloads while units are drained for repair. */
  acceptDown?: boolean;
  /** Seed mode: run omniinfer's global_proxy.sh through this script instead of our nginx config. */
  seed?: { scriptPath: string; script: string };
}

export interface ProxyResult {
  action: 'started' | 'reloaded' | 'kept';
}

export interface VerifyInput {
  target: HostRef;
  url: string;
  model: string;
  requestId: string;
  accessLog: string;
  prefillUpstreams: string[];
  decodeUpstreams: string[];
}

export interface VerifyResult {
  text: string;
  prefill: string;
  decode: string;
}

/** One host the health watch looks at. */
export interface ProbeHost {
  target: HostRef;
  cli: ContainerCli;
  container: string;
  /** Where its API servers (and the proxy) answer. */
  address: string;
  /** The unit it belongs to (`prefill-0`, `decode-0`, `proxy`); absent in inputs from before it was sent. */
  unit?: string;
  /** The API servers this host runs (none on a Ray worker or the proxy host). */
  servers: { port: number; dpRank: number }[];
  /** The proxy host: the proxy's listen port. */
  proxyPort?: number;
}

/** awaitHostAnswers: one host, tried every `pollMs` until SSH answers. */
export interface AwaitHostInput {
  target: HostRef;
  pollMs: number;
}

export interface AwaitHostResult {
  waitedMs: number;
  tries: number;
}

export interface WatchHealthInput {
  cluster: string;
  hosts: ProbeHost[];
  /** The signature of the observations the workflow knows ('' for none): return when it differs. */
  known: string;
  /** Between probe rounds. */
  intervalMs: number;
  /** Per host and round: a host that does not answer within it is unreachable. */
  probeTimeoutMs: number;
  /** Return after this long even when nothing changed (the workflow may continue as new). */
  maxWatchMs: number;
}

export interface WatchHealthResult {
  observations: HostObservation[];
  signature: string;
  /** When the returned observations were made (the watch's clock). */
  observedAt: number;
  /** Probe rounds this watch ran (0: it returned before a round finished; nothing observed). */
  rounds: number;
  changed: boolean;
  /**
   * Why it returned before a change or its time was up: its worker shuts down, or it is a retry
   * after its worker went away (it probes one round and returns).
   */
  reason?: 'worker-shutdown' | 'retry';
}

export type { HostObservation };
