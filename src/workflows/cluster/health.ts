import type { HostObservation } from '../../shared/observation';
import type { Plan } from '../../plan/types';

/**
 * The cluster's health from what the watch observed on its hosts. Pure: the workflow computes it
 * (so history records every verdict it acted on) and the CLI only shows it.
 *
 * Units are what fails together, so they are what is judged and healed: a prefill instance (all
 * its hosts and its Ray group), a decode instance (one data-parallel group over all its hosts —
 * one lost rank takes the group down), the proxy.
 */

export type HealthState = 'serving' | 'degraded' | 'down';

export type HostCondition =
  | 'ok'
  | 'unreachable' // SSH did not answer
  | 'container-stopped' // exists but does not run (after a reboot)
  | 'container-missing'
  | 'engine-down' // an API server (or the proxy) does not answer its health check
  | 'unknown'; // not observed yet

export interface HostHealth {
  host: string;
  condition: HostCondition;
  /** What is wrong, for the operator: "API server :9101 (DP rank 3) not answering". */
  cause?: string;
  /** When it entered this condition (ms since the epoch; the watch's observation time). */
  since: number;
}

export interface UnitHealth {
  /** `prefill-0`, `decode-0`, `proxy`. */
  unit: string;
  kind: 'prefill' | 'decode' | 'proxy';
  state: HealthState;
  cause?: string;
  since: number;
  hosts: HostHealth[];
}

export interface ClusterHealth {
  state: HealthState;
  cause?: string;
  since: number;
  /** When the hosts were last observed. */
  observedAt: number;
  units: UnitHealth[];
}

export interface Unit {
  unit: string;
  kind: UnitHealth['kind'];
  /** Master first, as they are launched. */
  hosts: string[];
}

/** The cluster's units, prefill instances first (kv_rank order), then decode, then the proxy. */
export function clusterUnits(plan: Plan): Unit[] {
  return [
    ...plan.prefill.map((i) => ({ unit: i.id, kind: 'prefill' as const, hosts: [...i.hosts] })),
    ...plan.decode.map((i) => ({ unit: i.id, kind: 'decode' as const, hosts: [...i.hosts] })),
    { unit: 'proxy', kind: 'proxy' as const, hosts: [plan.proxy.host] },
  ];
}

/** The unit a host belongs to (the proxy host's machine mate is judged by its own role). */
export function unitOf(plan: Plan, host: string): Unit | undefined {
  return clusterUnits(plan).find((u) => u.hosts.includes(host));
}

function hostCondition(o: HostObservation | undefined, kind: Unit['kind']): [HostCondition, string?] {
  if (!o) return ['unknown'];
  if (!o.reachable) return ['unreachable', o.error ?? 'SSH does not answer'];
  if (o.container === 'missing') return ['container-missing', 'its container is gone'];
  if (o.container === 'stopped') return ['container-stopped', 'its container is not running'];
  if (kind === 'proxy') {
    if (o.proxy === 'unreachable' || o.proxy === undefined)
      return ['engine-down', 'the proxy does not answer /health'];
    return ['ok'];
  }
  const dead = o.servers.filter((s) => !s.healthy);
  if (dead.length > 0) {
    const which = dead.map((s) => `:${s.port} (DP rank ${s.dpRank})`).join(', ');
    return ['engine-down', `API server${dead.length > 1 ? 's' : ''} ${which} not answering /health`];
  }
  return ['ok'];
}

const since = <T extends { since: number }>(
  previous: T | undefined,
  same: (p: T) => boolean,
  now: number,
): number => (previous && same(previous) ? previous.since : now);

/**
 * Judge every unit and the cluster. `previous` keeps the `since` of conditions that did not
 * change, so "down since 12:01:07" stays true across observations.
 */
export function assessHealth(
  plan: Plan,
  observations: readonly HostObservation[],
  previous: ClusterHealth | undefined,
  now: number,
): ClusterHealth {
  const byHost = new Map(observations.map((o) => [o.host, o]));
  const units = clusterUnits(plan).map((u): UnitHealth => {
    const before = previous?.units.find((p) => p.unit === u.unit);
    const hosts = u.hosts.map((host): HostHealth => {
      const [condition, cause] = hostCondition(byHost.get(host), u.kind);
      const was = before?.hosts.find((h) => h.host === host);
      return {
        host,
        condition,
        ...(cause && { cause }),
        since: since(was, (p) => p.condition === condition, now),
      };
    });
    const [state, cause] = unitState(u, hosts, byHost);
    return {
      unit: u.unit,
      kind: u.kind,
      state,
      ...(cause && { cause }),
      since: since(before, (p) => p.state === state, now),
      hosts,
    };
  });
  const [state, cause] = clusterState(units);
  return {
    state,
    ...(cause && { cause }),
    since: since(previous, (p) => p.state === state, now),
    observedAt: now,
    units,
  };
}

function unitState(
  u: Unit,
  hosts: HostHealth[],
  byHost: Map<string, HostObservation>,
): [HealthState, string?] {
  const bad = hosts.filter((h) => h.condition !== 'ok');
  if (bad.length === 0) return ['serving'];
  const cause = bad.map((h) => `${h.host} ${h.cause ?? h.condition}`).join('; ');
  if (u.kind === 'decode') {
    // One data-parallel group: a lost host or container takes every rank down with it (the group
    // cannot step without them), while API servers that stopped answering on hosts that are
    // still there leave the others serving (the proxy sends to those) until the repair.
    const lost = bad.some((h) => h.condition !== 'engine-down');
    const answering = hosts.some((h) => byHost.get(h.host)?.servers.some((s) => s.healthy));
    return [lost || !answering ? 'down' : 'degraded', cause];
  }
  return ['down', cause];
}

function clusterState(units: UnitHealth[]): [HealthState, string?] {
  const up = (kind: Unit['kind']) => units.filter((u) => u.kind === kind && u.state !== 'down');
  const problems = units.filter((u) => u.state !== 'serving').map((u) => `${u.unit} ${u.state}: ${u.cause}`);
  if (up('proxy').length === 0 || up('prefill').length === 0 || up('decode').length === 0) {
    return ['down', problems.join(' | ')];
  }
  return problems.length > 0 ? ['degraded', problems.join(' | ')] : ['serving'];
}

/** The units that need repair: anything not serving. */
export function unitsToHeal(health: ClusterHealth): UnitHealth[] {
  return health.units.filter((u) => u.state !== 'serving');
}

const clock = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');

/**
 * Health as lines for the terminal and the Web UI: the cluster's verdict, then each unit that is
 * not serving with its hosts' causes and since when.
 */
export function describeHealth(h: ClusterHealth, healing: 'on' | 'off' | undefined): string[] {
  const lines = [
    `health: ${h.state} since ${clock(h.since)} (observed ${clock(h.observedAt)}; self-healing ${healing ?? 'on'})`,
  ];
  for (const u of h.units) {
    if (u.state === 'serving') continue;
    lines.push(`  ${u.unit}: ${u.state} since ${clock(u.since)}`);
    for (const host of u.hosts) {
      if (host.condition === 'ok') continue;
      lines.push(
        `    ${host.host}: ${host.condition} since ${clock(host.since)}${host.cause ? ` — ${host.cause}` : ''}`,
      );
    }
  }
  return lines;
}
