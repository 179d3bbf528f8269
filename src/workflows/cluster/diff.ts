import { containerSpecHash } from '../../plan/dockerRun';
import { renderLaunchScript } from '../../plan/launch';
import type { Plan, PlanHost } from '../../plan/types';
import { clusterUnits, type Unit } from './health';
import { engineLaunchSpec, proxyInput } from './serverSteps';

/**
 * What applying a new Plan to a running cluster changes, per unit and host — like `terraform
 * plan`: pure, computed from the two Plans alone, so `deploy diff` shows it before anything
 * happens and the rollout does exactly what it showed.
 */

export type HostAction =
  | 'add-host' // new host: container, code, ranktables, engines from scratch
  | 'remove-host' // drained, then cleaned up
  | 'recreate-container' // the container spec changed (image, mounts, env, flags…)
  | 'rewrite-ranktables' // its ranktable files change (e.g. the global one lists another instance)
  | 'restart-engines'; // its launch script changed, or its container is new

export interface HostChange {
  host: string;
  actions: HostAction[];
  /** Why, for the operator: "image registry/x:1 → registry/x:2". */
  reasons: string[];
}

export interface UnitChange {
  unit: string;
  kind: Unit['kind'];
  change: 'add' | 'remove' | 'update' | 'none';
  hosts: HostChange[];
}

export interface PlanDiff {
  cluster: string;
  units: UnitChange[];
  /** The proxy's config changes (upstreams, port…): reloaded without dropping connections. */
  proxyReload: boolean;
  /** The global ranktable changes: every engine host gets the new one. */
  globalRanktable: boolean;
  /** Any change at all. */
  changed: boolean;
}

const byName = (plan: Plan) => new Map(plan.hosts.map((h) => [h.name, h]));

function launchScript(plan: Plan, host: PlanHost): string | undefined {
  return host.role === 'proxy' ? undefined : renderLaunchScript(engineLaunchSpec(plan, host.name));
}

/** The ranktable files one host gets, as a comparable string (names and layout, not device IPs). */
function ranktableShape(plan: Plan, host: string): string {
  const r = plan.ranktable;
  const mine = [...r.prefill, ...r.decode].filter((i) => i.hosts.some((h) => h.name === host));
  return JSON.stringify({
    mine,
    global: r.globalFile,
    all: [...r.prefill, ...r.decode].map((i) => i.rankTableFile),
  });
}

function containerReasons(a: PlanHost, b: PlanHost): string[] {
  const reasons: string[] = [];
  if (a.container.image !== b.container.image)
    reasons.push(`image ${a.container.image} → ${b.container.image}`);
  if (containerSpecHash(a.container) !== containerSpecHash(b.container) && reasons.length === 0) {
    reasons.push('container spec (mounts, env, devices or flags) changed');
  }
  return reasons;
}

function unitKey(u: Unit): string {
  // A prefill instance is its kv_rank's; hosts may move between instances, so the unit is the id.
  return u.unit;
}

/** What changes on a host that both Plans have in the same unit; undefined: nothing. */
function hostChange(current: Plan, next: Plan, a: PlanHost, b: PlanHost): HostChange | undefined {
  const actions: HostAction[] = [];
  const reasons = containerReasons(a, b);
  if (reasons.length > 0) actions.push('recreate-container');
  if (b.role !== 'proxy' && ranktableShape(current, b.name) !== ranktableShape(next, b.name)) {
    actions.push('rewrite-ranktables');
    reasons.push('its ranktables change');
  }
  const scriptChanged = launchScript(current, a) !== launchScript(next, b);
  // Engines read their ranktables when they start: new ones mean a restart too.
  const restart = scriptChanged || actions.length > 0;
  if (b.role !== 'proxy' && restart) {
    actions.push('restart-engines');
    if (scriptChanged) reasons.push('its launch script changes (engine arguments or environment)');
  }
  return actions.length > 0 ? { host: b.name, actions, reasons } : undefined;
}

/** A unit of the next Plan against the same unit of the current one (if it had it). */
function unitChange(current: Plan, next: Plan, u: Unit, before: Unit | undefined): UnitChange {
  const oldHosts = byName(current);
  const newHosts = byName(next);
  const hosts: HostChange[] = [];
  for (const name of u.hosts) {
    const b = newHosts.get(name)!;
    const a = oldHosts.get(name);
    if (!a || (before && !before.hosts.includes(name))) {
      hosts.push({ host: name, actions: ['add-host'], reasons: [`new ${b.role} host ${b.address}`] });
      continue;
    }
    const change = hostChange(current, next, a, b);
    if (change) hosts.push(change);
  }
  for (const name of before?.hosts.filter((h) => !u.hosts.includes(h)) ?? []) {
    hosts.push({ host: name, actions: ['remove-host'], reasons: [`no longer in ${u.unit}`] });
  }
  return {
    unit: u.unit,
    kind: u.kind,
    change: !before ? 'add' : hosts.length > 0 ? 'update' : 'none',
    hosts,
  };
}

export function diffPlans(current: Plan, next: Plan): PlanDiff {
  const oldUnits = new Map(clusterUnits(current).map((u) => [unitKey(u), u]));
  const newUnits = new Map(clusterUnits(next).map((u) => [unitKey(u), u]));
  const globalRanktable =
    JSON.stringify([current.ranktable.prefill, current.ranktable.decode]) !==
    JSON.stringify([next.ranktable.prefill, next.ranktable.decode]);
  const units = [...newUnits].map(([key, u]) => unitChange(current, next, u, oldUnits.get(key)));
  for (const [key, u] of oldUnits) {
    if (newUnits.has(key)) continue;
    units.push({
      unit: u.unit,
      kind: u.kind,
      change: 'remove',
      hosts: u.hosts.map((h) => ({ host: h, actions: ['remove-host'], reasons: [`${u.unit} is gone`] })),
    });
  }
  const proxyReload = proxyInput(current).configHash !== proxyInput(next).configHash;
  return {
    cluster: next.cluster,
    units,
    proxyReload,
    globalRanktable,
    changed: proxyReload || units.some((u) => u.change !== 'none'),
  };
}

/** `deploy diff`'s text: one block per unit that changes, then the proxy. */
export function renderDiff(d: PlanDiff): string {
  if (!d.changed) return `${d.cluster}: no changes`;
  const lines = [`${d.cluster}: changes to apply (a rollout, unit by unit)`];
  const sign = { add: '+', remove: '-', update: '~', none: ' ' } as const;
  for (const u of d.units) {
    if (u.change === 'none') continue;
    lines.push(`${sign[u.change]} ${u.unit} (${u.kind}): ${u.change}`);
    for (const h of u.hosts) {
      lines.push(
        `    ${h.host}: ${h.actions.join(', ')}${h.reasons.length ? ` — ${h.reasons.join('; ')}` : ''}`,
      );
    }
  }
  if (d.globalRanktable) lines.push('  global ranktable: re-merged and written to every engine host');
  if (d.proxyReload) lines.push('~ proxy: config changes (reload, no dropped connections)');
  return lines.join('\n');
}
