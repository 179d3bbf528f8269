import type { Inventory, InventoryHost } from '../inventory/types';
import { durationMs as parseDuration } from '../shared/duration';
import { containerSpec } from './containerSpec';
import { seedFacts } from './facts';
import { decodeApiServers, listeningPorts } from '../inventory/ports';
import { ranktablePlan } from './ranktablePlan';
import type {
  DecodeInstance,
  DeploySettings,
  EngineSpec,
  Plan,
  PlanHost,
  PrefillInstance,
  Role,
} from './types';
import type { HostAuth } from '../shared/host';

const ROLE = { P: 'prefill', D: 'decode', C: 'proxy' } as const satisfies Record<string, Role>;

/** Durations were validated by the loader; a bad one here is a bug, not an operator error. */
function durationMs(text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new Error(`not a duration: ${text}`);
  return ms;
}

/** A password is referred to where the worker re-reads it: this host in this inventory file. */
function hostAuth(h: InventoryHost, inventoryFile: string): HostAuth {
  return h.login.method === 'key'
    ? { method: 'key', keyFile: h.login.keyFile }
    : { method: 'password', password: { inventoryFile, inventoryHost: h.name } };
}

interface Membership {
  instance: string;
  master: InventoryHost;
  dpOffset: number;
}

/**
 * Computes the whole deployment from a validated inventory. Pure and deterministic: the same
 * inventory gives the same JSON, byte for byte.
 */
export function buildPlan(inv: Inventory): Plan {
  const s = inv.settings;
  const cluster = s.cluster_name;
  const byName = new Map(inv.hosts.map((h) => [h.name, h]));
  const hostsOf = (names: readonly string[]) => names.map((n) => byName.get(n)!);

  const membership = new Map<string, Membership>();
  for (const p of inv.prefill) {
    const [master] = hostsOf(p.hosts);
    for (const n of p.hosts)
      membership.set(n, { instance: `prefill-${p.kvRank}`, master: master!, dpOffset: 0 });
  }
  for (const [index, d] of inv.decode.entries()) {
    // DP ranks run master first, so rank 0 (which hosts the DP rendezvous on the master address)
    // is on the master; the seed counted offsets in inventory order instead.
    let offset = 0;
    const members = hostsOf(d.hosts);
    for (const h of members) {
      membership.set(h.name, { instance: `decode-${index}`, master: members[0]!, dpOffset: offset });
      offset += h.devices.length;
    }
  }
  const proxyHost = byName.get(inv.proxy)!;
  membership.set(proxyHost.name, { instance: 'proxy', master: proxyHost, dpOffset: 0 });

  const hosts = inv.hosts.map((h) => planHost(h, membership.get(h.name)!, s, cluster, inv.file));
  const planHostOf = new Map(hosts.map((h) => [h.name, h]));

  const kvParallelSize = inv.prefill.length + 1;
  const readyTimeoutMs = durationMs(s.engine_ready_timeout);
  const rayJoinTimeoutSeconds = Math.ceil(durationMs(s.ray_join_timeout) / 1000);
  const prefill: PrefillInstance[] = inv.prefill.map((p) => {
    const members = hostsOf(p.hosts);
    const master = members[0]!;
    return {
      id: `prefill-${p.kvRank}`,
      kvRank: p.kvRank,
      hosts: [...p.hosts],
      master: master.name,
      masterAddress: master.address,
      masterPort: master.nodePort,
      apiPort: master.apiPort!,
      multiNode: members.length > 1,
      nodeIpList: members.map((h) => h.address),
      nnodes: members.length,
      rayJoinTimeoutSeconds,
      engine: {
        ...engineBase(s, readyTimeoutMs),
        maxModelLen: s.MODEL_LEN_MAX_PREFILL,
        tensorParallelSize: master.devices.length * members.length,
        dataParallelSize: 1,
        kvRank: p.kvRank,
        kvParallelSize,
        kvRole: 'kv_producer',
        modelExtraConfigPath: `${s.CODE_PATH}/omniinfer/tests/test_config/test_config_prefill.json`,
        extraArgs: [...s.prefill_extra_args],
        env: { ...s.prefill_env },
        additionalConfig: null,
      },
    };
  });

  const decode: DecodeInstance[] = inv.decode.map((d, index) => {
    const members = d.hosts.map((n) => planHostOf.get(n)!);
    const master = members[0]!;
    const apiServers = members.flatMap((h) =>
      h.apiServers.map((a) => ({ host: h.name, address: h.address, ...a })),
    );
    return {
      id: `decode-${index}`,
      hosts: [...d.hosts],
      master: master.name,
      masterAddress: master.address,
      masterPort: master.nodePort,
      apiServers,
      engine: {
        ...engineBase(s, readyTimeoutMs),
        maxModelLen: s.MODEL_LEN_MAX_DECODE,
        tensorParallelSize: s.DECODE_TENSOR_PARALLEL_SIZE,
        dataParallelSize: apiServers.length,
        // Decode takes the KV rank after the last prefill instance.
        kvRank: inv.prefill.length,
        kvParallelSize,
        kvRole: 'kv_consumer',
        modelExtraConfigPath: `${s.CODE_PATH}/omniinfer/tests/test_config/test_config_decode.json`,
        extraArgs: [...s.decode_extra_args],
        env: { ...s.decode_env },
        additionalConfig: s.decode_additional_config,
      },
    };
  });

  const member = (n: string) => ({
    name: n,
    address: byName.get(n)!.address,
    devices: byName.get(n)!.devices,
  });
  const ranktable = ranktablePlan(
    s.ranktable_save_path,
    inv.hosts.find((h) => h.group === 'P')!.name,
    inv.prefill.map((p) => ({ kvRank: p.kvRank, hosts: p.hosts.map(member) })),
    inv.decode.map((d) => ({ hosts: d.hosts.map(member) })),
  );

  return {
    planVersion: 1,
    cluster,
    inventoryFile: inv.file,
    settings: s,
    hosts,
    prefill,
    decode,
    proxy: {
      host: proxyHost.name,
      address: proxyHost.address,
      listenPort: proxyHost.nodePort,
      image: s.proxy_image,
      prefillUpstreams: prefill.map((i) => `${i.masterAddress}:${i.apiPort}`),
      decodeUpstreams: decode.flatMap((i) => i.apiServers.map((a) => `${a.address}:${a.port}`)),
      prefillLbSdk: s.PREFILL_LB_SDK,
      decodeLbSdk: s.DECODE_LB_SDK,
      httpProxy: s.HTTP_PROXY,
    },
    ranktable,
    facts: seedFacts(hosts, prefill, decode, ranktable),
    scriptsDir: s.SCRIPTS_PATH,
    codeInstallCommand: s.code_install_command,
  };
}

function engineBase(
  s: DeploySettings,
  readyTimeoutMs: number,
): Pick<EngineSpec, 'kvConnector' | 'servedModelName' | 'gpuMemoryUtilization' | 'readyTimeoutMs'> {
  return {
    kvConnector: s.kv_connector,
    servedModelName: s.served_model_name,
    gpuMemoryUtilization: s.gpu_memory_utilization,
    readyTimeoutMs,
  };
}

function planHost(
  h: InventoryHost,
  m: Membership,
  s: DeploySettings,
  cluster: string,
  inventoryFile: string,
): PlanHost {
  const role = ROLE[h.group];
  const isMaster = m.master === h;
  const apiServers =
    h.group === 'D'
      ? decodeApiServers(h.apiPort!, h.devices.length, m.dpOffset)
      : h.group === 'P' && isMaster
        ? [{ port: h.apiPort!, dpRank: 0 }]
        : [];
  return {
    name: h.name,
    group: h.group,
    role,
    address: h.address,
    ssh: {
      user: h.user,
      port: h.sshPort,
      auth: hostAuth(h, inventoryFile),
      knownHostsFile: s.known_hosts_file,
      hostKeyPolicy: s.host_key_policy,
    },
    container: containerSpec(
      { cluster, name: h.name, group: h.group, role, proxyPort: h.group === 'C' ? h.nodePort : null },
      s,
    ),
    devices: [...h.devices],
    instance: m.instance,
    nodeRank: h.nodeRank,
    nodePort: h.nodePort,
    apiPort: h.apiPort,
    isMaster,
    masterAddress: m.master.address,
    apiServers,
    dpOffset: m.dpOffset,
    ports: listeningPorts({ ...h, isMaster }),
    logDir: s.LOG_PATH,
    executorLogDir: `${s.LOG_PATH_IN_EXECUTOR}/${h.name}`,
  };
}
