import Table from 'cli-table3';
import pc from 'picocolors';
import { formatProblem, InventoryError } from '../../inventory';
import type { Plan, PlanHost } from '../../plan';
import { planFromFile } from '../planFile';
import { parseExtraVars } from './planInput';

/** `0,1,2,3,8` → `0-3,8`: sixteen device ids stay readable in a table cell. */
function ranges(ns: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length;) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    out.push(j > i ? `${ns[i]}-${ns[j]}` : `${ns[i]}`);
    i = j + 1;
  }
  return out.join(',') || '—';
}

function table(head: string[]): Table.Table {
  return new Table({ head: head.map((h) => pc.bold(h)), style: { head: [], border: [] } });
}

function sshCell(h: PlanHost): string {
  const auth = h.ssh.auth.method === 'key' ? `key ${h.ssh.auth.keyFile}` : 'password (from inventory)';
  return `${h.ssh.user}, port ${h.ssh.port}, ${auth}`;
}

function apiCell(h: PlanHost): string {
  if (h.apiServers.length === 0) return '—';
  const first = h.apiServers[0]!;
  const last = h.apiServers.at(-1)!;
  return h.apiServers.length === 1
    ? `${first.port} (DP ${first.dpRank})`
    : `${first.port}-${last.port} (DP ${first.dpRank}-${last.dpRank})`;
}

/** The operator's view of a plan: who runs what where, on which ports. */
export function renderPlanTables(plan: Plan): string {
  const decode = plan.decode[0]!;
  const lines = [
    `${pc.bold(`cluster ${plan.cluster}`)}: ${plan.prefill.length} prefill instance(s), ${plan.decode.length} decode instance (${decode.engine.dataParallelSize} DP ranks), proxy ${plan.proxy.address}:${plan.proxy.listenPort}`,
    `inventory ${plan.inventoryFile}; model ${plan.settings.MODEL_PATH}; image ${plan.settings.DOCKER_IMAGE_ID}`,
    '',
  ];

  const hosts = table(['host', 'role', 'address', 'ssh', 'devices', 'container']);
  for (const h of plan.hosts) {
    hosts.push([h.name, h.role, h.address, sshCell(h), ranges(h.devices), h.container.name]);
  }
  lines.push(pc.bold('Hosts'), hosts.toString(), '');

  const instances = table([
    'instance',
    'hosts (master first)',
    'kv_rank',
    'kv_parallel',
    'TP',
    'DP',
    'DP master',
  ]);
  for (const i of [...plan.prefill, ...plan.decode]) {
    const e = i.engine;
    instances.push([
      i.id,
      i.hosts.join(', '),
      e.kvRank,
      e.kvParallelSize,
      e.tensorParallelSize,
      e.dataParallelSize,
      `${i.masterAddress}:${i.masterPort}`,
    ]);
  }
  lines.push(pc.bold('Instances'), instances.toString(), '');

  const ports = table(['host', 'address', 'node_port', 'API servers', 'listening']);
  for (const h of plan.hosts) {
    const listening = h.ports
      .map((p) => (p.first === p.last ? `${p.first}` : `${p.first}-${p.last}`))
      .join(', ');
    ports.push([h.name, h.address, h.nodePort, apiCell(h), listening || '—']);
  }
  lines.push(pc.bold('Ports'), ports.toString(), '');

  const upstreams = table(['proxy upstream', 'servers']);
  upstreams.push(['prefill', plan.proxy.prefillUpstreams.join('\n')]);
  const byAddress = new Map<string, number[]>();
  for (const a of decode.apiServers) byAddress.set(a.address, [...(byAddress.get(a.address) ?? []), a.port]);
  upstreams.push(['decode', [...byAddress].map(([addr, ps]) => `${addr}:${ranges(ps)}`).join('\n')]);
  lines.push(
    pc.bold(`Proxy ${plan.proxy.host} listening on ${plan.proxy.address}:${plan.proxy.listenPort}`),
    upstreams.toString(),
  );
  return lines.join('\n');
}

/** `deploy plan`: exit code 1 with every located problem of a bad inventory. */
export function showPlan(flags: { inventory: string; extraVars: string[]; json?: boolean }): number {
  let plan: Plan;
  try {
    plan = planFromFile(flags.inventory, parseExtraVars(flags.extraVars));
  } catch (err) {
    if (!(err instanceof InventoryError)) throw err;
    const n = err.problems.length;
    console.error(pc.red(`${flags.inventory}: ${n} problem${n === 1 ? '' : 's'}`));
    for (const p of err.problems) console.error(`  ${formatProblem(p)}`);
    return 1;
  }
  console.log(flags.json ? JSON.stringify(plan, null, 2) : renderPlanTables(plan));
  return 0;
}
