import type { EngineLaunchInput, EngineReadyInput, ProxyInput, VerifyInput } from '../../activities/types';
import {
  launchRuntimeFiles,
  renderLaunchScript,
  renderStopScript,
  stopSpecFor,
  type EngineLaunchSpec,
} from '../../plan/launch';
import {
  DEBIAN_JS_MODULE,
  nginxCommands,
  nginxRuntimeFiles,
  nginxTempDirs,
  proxyConfigHash,
  renderProxyConfig,
  renderSeedProxyScript,
} from '../../plan/proxy';
import { proxyBalance } from '../../shared/proxyBalance';
import type { Plan, PlanHost } from '../../plan/types';
import { hostRef } from '../common';
import { launchScriptPath, owner, planHost, runDir, stopScriptPath } from './steps';

/**
 * Plan → engine launch and proxy inputs (pure). Scripts are rendered here, in the workflow, so
 * the exact script every host ran is in the history of the deploy.
 */

function instanceOf(plan: Plan, host: PlanHost) {
  if (host.role === 'prefill') {
    const p = plan.prefill.find((i) => i.id === host.instance);
    if (!p) throw new Error(`${host.name}: no prefill instance ${host.instance}`);
    return { kind: 'prefill' as const, p };
  }
  const d = plan.decode.find((i) => i.id === host.instance);
  if (!d) throw new Error(`${host.name}: no decode instance ${host.instance}`);
  return { kind: 'decode' as const, d };
}

type Instance = ReturnType<typeof instanceOf>;

/** The data-parallel group a host's engines join: a prefill instance's whole, or its decode slice. */
function dataParallel(inst: Instance, host: PlanHost): EngineLaunchSpec['dp'] {
  return inst.kind === 'prefill'
    ? {
        size: inst.p.engine.dataParallelSize,
        offset: 0,
        masterIp: inst.p.masterAddress,
        masterPort: inst.p.masterPort,
      }
    : {
        size: inst.d.engine.dataParallelSize,
        offset: host.dpOffset,
        masterIp: inst.d.masterAddress,
        masterPort: inst.d.masterPort,
      };
}

/** A prefill instance over several hosts: which node this host is and where the head is. */
function multiNode(inst: Instance, host: PlanHost): Pick<EngineLaunchSpec, 'multiNode'> {
  if (inst.kind !== 'prefill' || !inst.p.multiNode) return {};
  return {
    multiNode: {
      isHead: host.isMaster,
      headAddress: inst.p.masterAddress,
      nodeIpList: inst.p.nodeIpList,
      nodeNames: inst.p.hosts,
      nnodes: inst.p.nnodes,
      nodeRank: host.nodeRank,
      // Plans recorded before the setting existed leave it to the launch script's default.
      ...(inst.p.rayJoinTimeoutSeconds ? { joinTimeoutSeconds: inst.p.rayJoinTimeoutSeconds } : {}),
    },
  };
}

export function engineLaunchSpec(plan: Plan, name: string): EngineLaunchSpec {
  const host = planHost(plan, name);
  const inst = instanceOf(plan, host);
  const engine = inst.kind === 'prefill' ? inst.p.engine : inst.d.engine;
  const ranktable =
    inst.kind === 'prefill'
      ? plan.ranktable.prefill.find((r) => r.kvRank === inst.p.kvRank)!
      : plan.ranktable.decode[0]!;
  return {
    role: inst.kind,
    host: {
      name: host.name,
      address: host.address,
      masterAddress: host.masterAddress,
      devices: host.devices,
    },
    modelPath: plan.settings.MODEL_PATH,
    servedModelName: engine.servedModelName,
    maxModelLen: engine.maxModelLen,
    tensorParallelSize: engine.tensorParallelSize,
    gpuMemoryUtilization: engine.gpuMemoryUtilization,
    kv: {
      connector: engine.kvConnector,
      role: engine.kvRole,
      rank: engine.kvRank,
      engineId: engine.kvRank,
      parallelSize: engine.kvParallelSize,
      bufferDevice: 'npu',
    },
    dp: dataParallel(inst, host),
    apiServers: host.apiServers,
    ranktable: { localPath: ranktable.rankTableFile, globalPath: plan.ranktable.globalFile },
    decodeServerIpList: plan.decode.flatMap((d) => d.hosts.map((h) => planHost(plan, h).address)),
    prefillPodNum: plan.prefill.length,
    decodePodNum: plan.decode.length,
    ...multiNode(inst, host),
    extraArgs: engine.extraArgs,
    extraEnv: engine.env,
    ...(engine.additionalConfig ? { additionalConfig: engine.additionalConfig } : {}),
    modelExtraConfigPath: engine.modelExtraConfigPath,
    logDir: host.logDir,
    runDir: runDir(plan, host),
  };
}

export function engineLaunchInput(plan: Plan, name: string, force: boolean): EngineLaunchInput {
  const host = planHost(plan, name);
  const spec = engineLaunchSpec(plan, name);
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    container: host.container.name,
    launchScriptPath: launchScriptPath(plan, host),
    launchScript: renderLaunchScript(spec),
    stopScriptPath: stopScriptPath(plan, host),
    stopScript: renderStopScript(stopSpecFor(spec)),
    runDir: spec.runDir,
    owner: owner(plan, host),
    scriptsRoot: plan.scriptsDir,
    runtimeFiles: launchRuntimeFiles(spec.runDir, spec.apiServers.length),
    force,
  };
}

export function engineReadyInput(plan: Plan, name: string): EngineReadyInput {
  const host = planHost(plan, name);
  const inst = instanceOf(plan, host);
  const engine = inst.kind === 'prefill' ? inst.p.engine : inst.d.engine;
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    container: host.container.name,
    runDir: runDir(plan, host),
    address: host.address,
    servedModelName: engine.servedModelName,
    budgetMs: engine.readyTimeoutMs,
  };
}

/** One start unit: hosts launched in waves (master first), then all of them awaited. */
export interface ServerGroup {
  launch: string[][];
  ready: string[];
}

/**
 * Start order of the seed, gated by readiness instead of sleeps: the decode instance (master
 * launched first, then its members; the data-parallel group only serves once every rank joined,
 * so readiness is awaited for the instance as a whole), then the prefill instances — except when
 * a prefill instance spans hosts, where prefill (Ray head, then its workers) goes first.
 */
export function serverGroups(plan: Plan): ServerGroup[] {
  const group = (instances: { master: string; hosts: string[] }[]): ServerGroup => ({
    launch: [
      instances.map((i) => i.master),
      instances.flatMap((i) => i.hosts.filter((h) => h !== i.master)),
    ].filter((wave) => wave.length > 0),
    ready: instances.flatMap((i) => i.hosts),
  });
  const decode = group(plan.decode);
  const prefill = group(plan.prefill);
  return plan.prefill.some((p) => p.multiNode) ? [prefill, decode] : [decode, prefill];
}

/**
 * Engines of one instance live and die together (a data-parallel group, a Ray cluster): asking
 * to restart one host restarts its whole instance.
 */
export function instanceHosts(plan: Plan, hosts: readonly string[]): string[] {
  const instances = [...plan.prefill, ...plan.decode].filter((i) => i.hosts.some((h) => hosts.includes(h)));
  return plan.hosts.map((h) => h.name).filter((h) => instances.some((i) => i.hosts.includes(h)));
}

/**
 * The proxy as planned. `drained`: upstreams (`host:port` of the Plan's lists) to take out of
 * rotation, e.g. a unit being restarted; ensureProxy then reloads nginx with them marked `down`,
 * and again without them to put them back.
 */
export function proxyInput(plan: Plan, drained: readonly string[] = []): ProxyInput {
  const host = planHost(plan, plan.proxy.host);
  const dir = `${plan.scriptsDir}/proxy_${host.name}`;
  const run = runDir(plan, host);
  const spec = {
    listenPort: plan.proxy.listenPort,
    prefill: plan.proxy.prefillUpstreams,
    decode: plan.proxy.decodeUpstreams,
    drained: [...drained],
    balance: {
      prefill: proxyBalance(plan.proxy.prefillLbSdk),
      decode: proxyBalance(plan.proxy.decodeLbSdk),
    },
    logDir: host.logDir,
    runDir: run,
    njsPath: `${dir}/pd.js`,
    jsModulePath: DEBIAN_JS_MODULE,
  };
  const config = renderProxyConfig(spec);
  return {
    target: hostRef(plan, host),
    cli: host.container.cli,
    container: host.container.name,
    confPath: `${dir}/nginx.conf`,
    conf: config.nginxConf,
    njsPath: spec.njsPath,
    njs: config.njs,
    configHash: proxyConfigHash(spec),
    logDir: host.logDir,
    runDir: run,
    owner: owner(plan, host),
    scriptsRoot: plan.scriptsDir,
    tempDirs: nginxTempDirs(run),
    runtimeFiles: nginxRuntimeFiles(run),
    commands: nginxCommands({ confPath: `${dir}/nginx.conf`, prefixDir: run }),
    healthUrl: `http://${host.address}:${plan.proxy.listenPort}/health`,
    ...(plan.settings.proxy_mode === 'seed' ? seedProxy(plan, host, dir) : {}),
  };
}

/** omniinfer's nginx has no /health location; /v1/models reaching a prefill shows it serves. */
function seedProxy(plan: Plan, host: PlanHost, dir: string): Pick<ProxyInput, 'seed' | 'healthUrl'> {
  const s = plan.settings;
  const script = renderSeedProxyScript({
    listenPort: plan.proxy.listenPort,
    prefill: plan.proxy.prefillUpstreams,
    decode: plan.proxy.decodeUpstreams,
    codePath: s.CODE_PATH,
    logDir: host.logDir,
    prefillLbSdk: plan.proxy.prefillLbSdk,
    decodeLbSdk: plan.proxy.decodeLbSdk,
    httpProxy: plan.proxy.httpProxy,
  });
  return {
    seed: { scriptPath: `${dir}/run_proxy_server.sh`, script },
    healthUrl: `http://${host.address}:${plan.proxy.listenPort}/v1/models`,
  };
}

export function verifyInput(plan: Plan, requestId: string): VerifyInput {
  const host = planHost(plan, plan.proxy.host);
  const model = plan.prefill[0]?.engine.servedModelName ?? plan.settings.served_model_name;
  return {
    target: hostRef(plan, host),
    url: `http://${host.address}:${plan.proxy.listenPort}`,
    model,
    requestId,
    accessLog: `${host.logDir}/nginx_access.log`,
    prefillUpstreams: plan.proxy.prefillUpstreams,
    decodeUpstreams: plan.proxy.decodeUpstreams,
  };
}
