import type {
  CleanupInput,
  ContainerInput,
  CopyImageArchiveInput,
  LoadImagesInput,
  Owner,
  PreflightInput,
  SyncCodeInput,
} from '../../activities/types';
import { containerSpecHash, dockerRunArgv } from '../../plan/dockerRun';
import type { Plan, PlanHost } from '../../plan/types';
import { hostRef } from '../common';

/**
 * Plan → activity inputs: pure functions, so a reader follows an inventory field from the Plan
 * to the remote command without leaving this file, and the inputs stay small (one host's part).
 */

export function planHost(plan: Plan, name: string): PlanHost {
  const host = plan.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`host ${name} is not in the plan`);
  return host;
}

/** Whose entries a host step records in the host's manifest (what cleanup may remove). */
export function owner(plan: Plan, host: PlanHost): Owner {
  return { cluster: plan.cluster, host: host.name };
}

/** Hosts sharing an address (the seed's c0 on p0's machine) are one machine for files and ports. */
function machineMates(plan: Plan, host: PlanHost): PlanHost[] {
  return plan.hosts.filter((h) => h.address === host.address);
}

export function preflightInput(plan: Plan, name: string): PreflightInput {
  const host = planHost(plan, name);
  const s = plan.settings;
  const engineHost = host.role !== 'proxy';
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    image: host.container.image,
    modelPath: engineHost ? s.MODEL_PATH : undefined,
    devicePaths: engineHost
      ? [
          ...host.container.devices.map((d) => d.split(':')[0]!),
          ...host.devices.map((d) => `/dev/davinci${d}`),
        ]
      : [],
    ports: host.ports.flatMap((p) => range(p.first, p.last)),
    disk: [{ path: s.LOG_PATH, minFreeBytes: 1 << 30 }],
    ownContainers: machineMates(plan, host).map((h) => h.container.name),
    ...((s.image_archive ?? '') !== '' && { imageArchive: baseName(s.image_archive) }),
  };
}

export function containerInput(plan: Plan, name: string): ContainerInput {
  const host = planHost(plan, name);
  const s = plan.settings;
  const argv = dockerRunArgv(host.container);
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    name: host.container.name,
    image: host.container.image,
    runArgs: argv.slice(2),
    specHash: containerSpecHash(host.container),
    owner: owner(plan, host),
    keepDirs: [s.LOG_PATH, s.CODE_PATH],
    ownedDirs: [s.SCRIPTS_PATH, s.ranktable_save_path],
  };
}

/**
 * The seed syncs to every P and D host, and to the proxy host only when no P/D host shares its
 * machine (the copy would land in the same folder twice).
 */
export function syncCodeTargets(plan: Plan): string[] {
  const engineAddresses = new Set(plan.hosts.filter((h) => h.role !== 'proxy').map((h) => h.address));
  const seen = new Set<string>();
  return plan.hosts
    .filter((h) => h.role !== 'proxy' || !engineAddresses.has(h.address))
    .filter((h) => (seen.has(h.address) ? false : (seen.add(h.address), true)))
    .map((h) => h.name);
}

export function syncCodeInput(plan: Plan, name: string): SyncCodeInput {
  const host = planHost(plan, name);
  const s = plan.settings;
  return {
    target: hostRef(plan, host),
    localPath: `${s.LOCAL_CODE_PATH}/omniinfer`,
    remotePath: `${s.CODE_PATH}/omniinfer`,
    install:
      host.role === 'proxy' || plan.codeInstallCommand.trim() === ''
        ? undefined
        : { cli: host.container.cli, container: host.container.name, command: plan.codeInstallCommand },
  };
}

/** Where the image archive lands on a host: beside the code, under its own name. */
function imageArchiveDir(plan: Plan): string {
  return `${plan.settings.CODE_PATH}/omni-deploy-images`;
}

const baseName = (file: string) => file.slice(file.lastIndexOf('/') + 1);

export function imageArchiveInput(plan: Plan, name: string): CopyImageArchiveInput {
  return {
    target: hostRef(plan, planHost(plan, name)),
    localFile: plan.settings.image_archive,
    remoteDir: imageArchiveDir(plan),
  };
}

export function loadImagesInput(plan: Plan, name: string): LoadImagesInput {
  const host = planHost(plan, name);
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    images: [host.container.image],
    archive: imageArchivePath(plan),
  };
}

function imageArchivePath(plan: Plan): string {
  return `${imageArchiveDir(plan)}/${baseName(plan.settings.image_archive)}`;
}

export function cleanupInput(plan: Plan, name: string): CleanupInput {
  const host = planHost(plan, name);
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    containers: [host.container.name],
    stopScripts: host.role === 'proxy' ? [] : [stopScriptPath(plan, host)],
    owner: owner(plan, host),
    ...((plan.settings.image_archive ?? '') !== '' &&
      plan.settings.image_archive_on_down === 'remove' && { files: [imageArchivePath(plan)] }),
  };
}

/** The run_server scripts of a host, in SCRIPTS_PATH (which its container mounts). */
export function launchScriptPath(plan: Plan, host: PlanHost): string {
  return `${plan.scriptsDir}/run_server_${host.name}.sh`;
}

export function stopScriptPath(plan: Plan, host: PlanHost): string {
  return `${plan.scriptsDir}/stop_server_${host.name}.sh`;
}

/** Where the engine launcher keeps pid files and its manifest on a host. */
export function runDir(plan: Plan, host: PlanHost): string {
  return `${plan.scriptsDir}/run/${host.name}`;
}

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}
