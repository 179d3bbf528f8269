import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { DeploySettings, Group } from './types';
import {
  executorFolderViolations,
  folderOverlapViolations,
  formatPathViolation,
  managedFolderViolations,
} from '../shared/hostPaths';
import { stateDir } from '../shared/paths';
import { HONOURED_LB_SDKS, LB_SDK_BALANCE, type LbSdk } from '../shared/proxyBalance';
import { EXTRA_VARS_FILE, InventoryError, type InventoryProblem } from './errors';
import {
  APPLICABLE,
  CONNECTION_VARS,
  FIELD_MEANING,
  fieldSchema,
  HOST_FIELDS,
  isHostField,
  REQUIRED,
  SEED_TEMPLATE_VARS,
  type HostField,
} from './hostFields';
import { LIMITS, limitMessage } from './limits';
import { TemplateRenderer } from './render';
import { LayeredVars, SharedRenders, VarScope, type VarLayer, type VarOrigin } from './scope';
import {
  DERIVED_DEFAULTS,
  IMAGE_PLACEHOLDER,
  isSetting,
  MANAGED_FOLDERS,
  SETTING_KEYS,
  SETTINGS,
} from './settings';
import { readInventorySource, type InventorySource, type YamlPath } from './source';
import { GROUPS, readShape, type HostEntry, type InventoryShape, type VarMap } from './structure';
import { didYouMean } from './suggest';
import { CONTROL_IN_TEXT } from './yamlValue';
import { resolveTopology } from './topology';
import type { Inventory, InventoryHost, InventoryLogin } from './types';

const KNOWN_VARS: readonly string[] = [
  ...SETTING_KEYS,
  ...CONNECTION_VARS,
  ...SEED_TEMPLATE_VARS,
  ...HOST_FIELDS,
];

/** Ansible lets templates use any variable; names starting with "_" are the operator's own helpers. */
const isHelperVar = (key: string) => key.startsWith('_');

/**
 * `-e KEY=VALUE` values are text; integers, booleans and YAML flow collections (`[a, b]`, `{K: v}`)
 * are read as such so they can replace the same values written in YAML.
 */
export function parseExtraVarValue(value: string): unknown {
  if (/^-?\d+$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  if (/^[[{]/.test(value)) {
    try {
      return parseYaml(value) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

class Loader {
  readonly problems: InventoryProblem[] = [];

  constructor(private readonly src: InventorySource) {}

  at(origin: VarOrigin, message: string, subPath: readonly (string | number)[] = []): void {
    if (origin.level === 'extra') {
      this.problems.push({ file: EXTRA_VARS_FILE, line: 0, column: 0, path: origin.key, message });
    } else {
      this.problems.push(this.src.problem([...origin.path, ...subPath], message));
    }
  }

  atPath(path: YamlPath, message: string, at: 'key' | 'value' = 'value'): void {
    this.problems.push(this.src.problem(path, message, at));
  }
}

const allLayer = (vars: VarMap): VarLayer => ({
  vars,
  originOf: (key) => ({ level: 'all', path: ['all', 'vars', key] }),
});
const extraLayer = (vars: VarMap): VarLayer => ({ vars, originOf: (key) => ({ level: 'extra', key }) });

/** Names set in some group's or host's vars: values built on them differ from host to host. */
function varyingNames(shape: InventoryShape): Set<string> {
  const names = new Set<string>();
  for (const g of GROUPS) for (const k of Object.keys(knownOnly(shape.groupVars[g]))) names.add(k);
  for (const h of shape.hosts) for (const k of Object.keys(knownOnly(h.vars))) names.add(k);
  return names;
}

function checkKeys(loader: Loader, shape: InventoryShape, extraVars: Record<string, unknown>): void {
  // Suggestions past what one refusal lists would go unread; a file of ten thousand unknown
  // names should not pay for them.
  let suggestions = LIMITS.problemsShown;
  const unknown = (key: string) =>
    `unknown setting "${key}"${suggestions-- > 0 ? didYouMean(key, KNOWN_VARS) : ''}`;
  const check = (keys: string[], pathOf: (k: string) => YamlPath, level: 'all' | 'group' | 'host') => {
    for (const key of keys) {
      if (isHelperVar(key)) continue;
      if (!KNOWN.has(key)) {
        loader.atPath(pathOf(key), unknown(key), 'key');
      } else if (level !== 'all' && isSetting(key)) {
        loader.atPath(pathOf(key), `${key} is a cluster-wide setting: set it in all.vars or with -e`, 'key');
      }
    }
  };
  for (const key of Object.keys(extraVars)) {
    if (!isHelperVar(key) && !KNOWN.has(key)) {
      loader.at({ level: 'extra', key }, unknown(key));
    } else if (key === 'ansible_password') {
      // Workers re-read passwords from the inventory file; one given on the command line would be lost.
      loader.at(
        { level: 'extra', key },
        'passwords cannot come from the command line: set ansible_password in the inventory',
      );
    }
  }
  check(Object.keys(shape.allVars), (k) => ['all', 'vars', k], 'all');
  for (const g of GROUPS)
    check(Object.keys(shape.groupVars[g]), (k) => ['all', 'children', g, 'vars', k], 'group');
  for (const h of shape.hosts) check(Object.keys(h.vars), (k) => [...h.path, k], 'host');
}

const KNOWN = new Set(KNOWN_VARS);
const knownOnly = (vars: VarMap): VarMap =>
  Object.keys(vars).every((k) => isHelperVar(k) || KNOWN.has(k))
    ? vars
    : Object.fromEntries(Object.entries(vars).filter(([k]) => isHelperVar(k) || KNOWN.has(k)));

function resolveSettings(
  loader: Loader,
  shape: InventoryShape,
  extraVars: Record<string, unknown>,
  file: string,
  builtins: Record<string, unknown>,
  shared: SharedRenders,
): DeploySettings {
  const vars = new LayeredVars([extraLayer(extraVars), allLayer(knownOnly(shape.allVars))]);
  const scope = new VarScope(vars, builtins, (origin, message) => loader.at(origin, message), shared);

  const settings: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const def = SETTINGS[key];
    const origin = scope.origin(key);
    const value = origin ? scope.value(key) : def.default;
    if (value === undefined) {
      if (origin) continue; // failed to render, already reported
      if (def.required) {
        loader.atPath(
          ['all', 'vars', key],
          `${key} is required: set it in all.vars or with -e (the seed asks the operator to set it)`,
        );
      }
      continue;
    }
    const parsed = def.schema.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues)
        loader.at(origin!, issue.message, issue.path as (string | number)[]);
      continue;
    }
    settings[key] = parsed.data;
  }
  if (settings.DOCKER_IMAGE_ID === IMAGE_PLACEHOLDER) {
    loader.at(
      scope.origin('DOCKER_IMAGE_ID')!,
      `DOCKER_IMAGE_ID is still the seed's placeholder ${IMAGE_PLACEHOLDER}: name the image to run`,
    );
  }
  checkManagedFolders(loader, scope, settings);
  const derived: Record<(typeof DERIVED_DEFAULTS)[number], unknown> = {
    cluster_name: path.basename(file, path.extname(file)),
    LOCAL_CODE_PATH: settings.CODE_PATH,
    proxy_image: settings.DOCKER_IMAGE_ID,
  };
  for (const key of DERIVED_DEFAULTS) {
    if (scope.origin(key) === undefined) {
      const parsed = SETTINGS[key].schema.safeParse(derived[key]);
      if (parsed.success) settings[key] = parsed.data;
      else if (key === 'cluster_name') {
        loader.atPath(
          ['all', 'vars', key],
          `the file name does not make a valid cluster name (${parsed.error.issues[0]!.message}): set cluster_name`,
        );
      }
    }
  }
  checkExecutorFolders(loader, scope, settings);
  checkBalancers(loader, scope, settings);
  // Catalogue order, so the plan's JSON does not depend on where a setting was written.
  return Object.fromEntries(
    SETTING_KEYS.filter((k) => k in settings).map((k) => [k, settings[k]]),
  ) as unknown as DeploySettings;
}

/**
 * The managed folders against the model folder (the schemas have checked each on its own): an
 * overlap is reported at the folder's setting, or at MODEL_PATH when the folder is a default.
 */
function checkManagedFolders(loader: Loader, scope: VarScope, settings: Record<string, unknown>): void {
  const model = settings.MODEL_PATH;
  if (typeof model !== 'string') return;
  for (const key of MANAGED_FOLDERS) {
    const folder = settings[key];
    if (typeof folder !== 'string') continue;
    for (const v of managedFolderViolations(folder, model).filter((x) => x.rule === 'model-folder')) {
      const origin = scope.origin(key);
      if (origin) loader.at(origin, formatPathViolation(v));
      else loader.at(scope.origin('MODEL_PATH')!, `${key} (default ${folder}): ${formatPathViolation(v)}`);
    }
  }
  const folders = Object.fromEntries(
    MANAGED_FOLDERS.filter((k) => typeof settings[k] === 'string').map((k) => [k, settings[k] as string]),
  );
  for (const { setting, violation } of folderOverlapViolations(
    folders,
    (k) => scope.origin(k) !== undefined,
  )) {
    const origin = scope.origin(setting);
    const message = formatPathViolation(violation);
    if (origin) loader.at(origin, message);
    else loader.atPath(['all', 'vars', setting], `${setting} (default ${folders[setting]}): ${message}`);
  }
}

/** The executor's code and log folders against its secrets and omni-deploy's state folder. */
function checkExecutorFolders(loader: Loader, scope: VarScope, settings: Record<string, unknown>): void {
  for (const key of ['LOCAL_CODE_PATH', 'LOG_PATH_IN_EXECUTOR'] as const) {
    const folder = settings[key];
    if (typeof folder !== 'string') continue;
    for (const v of executorFolderViolations(key, folder, stateDir())) {
      const origin = scope.origin(key);
      if (origin) loader.at(origin, formatPathViolation(v));
      else loader.atPath(['all', 'vars', key], `${key} (default ${folder}): ${formatPathViolation(v)}`);
    }
  }
}

/** In the default proxy, a balancer module it cannot honour is refused, not quietly replaced. */
function checkBalancers(loader: Loader, scope: VarScope, settings: Record<string, unknown>): void {
  if ((settings.proxy_mode ?? 'njs') !== 'njs') return;
  for (const key of ['PREFILL_LB_SDK', 'DECODE_LB_SDK'] as const) {
    const name = settings[key];
    if (typeof name !== 'string' || !(name in LB_SDK_BALANCE) || LB_SDK_BALANCE[name as LbSdk]) continue;
    const message =
      `${name} is one of omniinfer's own balancer modules, which the default proxy (proxy_mode: njs) ` +
      `cannot honour; use ${HONOURED_LB_SDKS.join(', ')}, or proxy_mode: seed to run omniinfer's proxy`;
    const origin = scope.origin(key);
    if (origin) loader.at(origin, message);
    else loader.atPath(['all', 'vars', key], `${key}: ${message}`);
  }
}

/**
 * `hostvars['d0']`, as in Ansible: d0's variables, each rendered in d0's own context when read.
 * A view rather than a copy, so it costs nothing until a template reads through it.
 */
function hostvarsView(name: string, scope: VarScope): object {
  const has = (k: string | symbol) =>
    typeof k === 'string' && (k === 'inventory_hostname' || scope.vars.has(k));
  const get = (k: string | symbol) =>
    k === 'inventory_hostname' ? name : has(k) ? scope.valueForTemplate(k as string) : undefined;
  return new Proxy(
    {},
    {
      get: (_, k) => get(k),
      has: (_, k) => has(k),
      ownKeys: () => [...new Set(['inventory_hostname', ...scope.vars.names()])],
      getOwnPropertyDescriptor: (_, k) =>
        has(k) ? { enumerable: true, configurable: true, get: () => get(k) } : undefined,
    },
  );
}

function hostScopes(
  loader: Loader,
  shape: InventoryShape,
  extraVars: Record<string, unknown>,
  inventoryFile: string,
  shared: SharedRenders,
): { scopes: Map<string, VarScope>; builtins: Record<string, unknown> } {
  const scopes = new Map<string, VarScope>();
  const hostvars: Record<string, unknown> = {};
  const groups: Record<string, string[]> = { all: shape.hosts.map((h) => h.name) };
  for (const g of GROUPS) groups[g] = shape.hosts.filter((h) => h.group === g).map((h) => h.name);
  // Ansible's magic variables for the inventory's own location, so an inventory can name files
  // beside it (`{{ inventory_dir }}/keys/id`) and work from any checkout or working directory.
  const absolute = path.resolve(inventoryFile);
  const magic = { groups, hostvars, inventory_dir: path.dirname(absolute), inventory_file: absolute };

  // Each level filtered once and shared by every host's lookup: nothing is copied per host.
  const extra = extraLayer(extraVars);
  const all = allLayer(knownOnly(shape.allVars));
  const groupLayers = Object.fromEntries(
    GROUPS.map((g): [Group, VarLayer] => [
      g,
      {
        vars: knownOnly(shape.groupVars[g]),
        originOf: (key) => ({ level: 'group', path: ['all', 'children', g, 'vars', key] }),
      },
    ]),
  ) as Record<Group, VarLayer>;

  for (const h of shape.hosts) {
    const vars = new LayeredVars([
      extra,
      { vars: knownOnly(h.vars), originOf: (key) => ({ level: 'host', path: [...h.path, key] }) },
      groupLayers[h.group],
      all,
    ]);
    const builtins = { ...magic, inventory_hostname: h.name, group_names: [h.group] };
    const report = (origin: VarOrigin, message: string, sub: (string | number)[] = []) =>
      loader.at(origin, origin.level === 'host' ? message : `host ${h.name}: ${message}`, sub);
    const scope = new VarScope(vars, builtins, report, shared, (name, value) => {
      if (!isHostField(name) || !APPLICABLE[h.group].has(name)) return undefined;
      const parsed = fieldSchema(name, h.group).safeParse(value);
      return parsed.success
        ? { ok: true, value: parsed.data }
        : {
            ok: false,
            issues: parsed.error.issues.map((i) => ({
              message: i.message,
              path: i.path as (string | number)[],
            })),
          };
    });
    scopes.set(h.name, scope);
    let view: object | undefined;
    Object.defineProperty(hostvars, h.name, {
      enumerable: true,
      get: () => (view ??= hostvarsView(h.name, scope)),
    });
  }
  return { scopes, builtins: magic };
}

/** Reads one host's fields; undefined when any of them is wrong (each reported). */
function readHost(loader: Loader, entry: HostEntry, scope: VarScope): InventoryHost | undefined {
  const { group, name } = entry;
  const problemsBefore = loader.problems.length;
  // Reading the fields checks them (VarScope reports what is wrong); unset ones are checked below.
  const values = new Map<HostField, unknown>();
  const report = (origin: VarOrigin, message: string, sub: (string | number)[] = []) =>
    loader.at(origin, origin.level === 'host' ? message : `host ${name}: ${message}`, sub);

  for (const field of [...CONNECTION_VARS, ...HOST_FIELDS]) {
    const origin = scope.origin(field);
    if (!origin) continue;
    if (!APPLICABLE[group].has(field)) {
      // Inherited from all.vars or -e it is just not for this group; written here it is a mistake.
      if (origin.level === 'host' || origin.level === 'group')
        report(origin, `${field} does not apply to ${group} hosts`);
      continue;
    }
    const value = scope.checkedValue(field);
    if (value !== undefined) values.set(field, value);
  }
  const missing = (field: HostField) => scope.origin(field) === undefined;
  for (const field of REQUIRED[group]) {
    if (missing(field)) {
      const meaning = FIELD_MEANING[field];
      loader.atPath([...entry.path, field], `${field} is required${meaning ? ` (${meaning})` : ''}`);
    }
  }
  if (group === 'D' && missing('host_ip') && missing('role')) {
    loader.atPath(
      [...entry.path, 'host_ip'],
      `host_ip is required (the decode master's address), or role M/S`,
    );
  }
  const keyFile = scope.origin('ansible_ssh_private_key_file');
  const password = scope.origin('ansible_password');
  if (!keyFile && !password) {
    loader.atPath(
      [...entry.path, 'ansible_ssh_private_key_file'],
      'set ansible_ssh_private_key_file or ansible_password to log in',
    );
  }
  if (loader.problems.length > problemsBefore) return undefined;

  // Both given: the more specific one wins, as Ansible precedence would have it.
  const rank = (o?: VarOrigin) => (o ? ['all', 'group', 'host', 'extra'].indexOf(o.level) : -1);
  if (keyFile && password && rank(keyFile) === rank(password)) {
    report(
      password,
      `both ansible_password and ansible_ssh_private_key_file are set at the same level; keep one`,
    );
    return undefined;
  }
  const login: InventoryLogin =
    rank(keyFile) > rank(password)
      ? { method: 'key', keyFile: values.get('ansible_ssh_private_key_file') as string }
      : { method: 'password' };
  const role = values.get('role');
  return {
    name,
    group,
    address: values.get('ansible_host') as string,
    sshPort: (values.get('ansible_port') as number | undefined) ?? 22,
    user: values.get('ansible_user') as string,
    login,
    nodeRank: (values.get('node_rank') as number | undefined) ?? 0,
    nodePort: values.get('node_port') as number,
    kvRank: (values.get('kv_rank') as number | undefined) ?? null,
    apiPort: (values.get('api_port') as number | undefined) ?? null,
    hostIp: (values.get('host_ip') as string | undefined) ?? null,
    devices: (values.get('ascend_rt_visible_devices') as number[] | undefined) ?? [],
    legacyRole: role === 'M' || role === 'S' ? role : null,
  };
}

/**
 * Problems in file order, each once; past LIMITS.problemsShown the rest are counted, not listed
 * (a hostile file can make a hundred thousand, and the first ones are what to fix first).
 */
function sortProblems(problems: InventoryProblem[]): InventoryProblem[] {
  const seen = new Set<string>();
  const sorted = problems
    .filter((p) => {
      const key = JSON.stringify(p);
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    })
    .sort(
      (a, b) =>
        a.line - b.line ||
        a.column - b.column ||
        a.path.localeCompare(b.path) ||
        a.message.localeCompare(b.message),
    );
  if (sorted.length <= LIMITS.problemsShown) return sorted;
  const next = sorted[LIMITS.problemsShown]!;
  return [
    ...sorted.slice(0, LIMITS.problemsShown),
    {
      ...next,
      message: limitMessage(
        'problems-shown',
        `${sorted.length - LIMITS.problemsShown} more problems from here on are not listed; fix the ones above first`,
      ),
    },
  ];
}

const GROUP_ORDER: Record<Group, number> = { P: 0, D: 1, C: 2 };

/**
 * Reads, renders and validates an Ansible inventory in the seed's format. `extraVars` are
 * `-e KEY=VALUE` pairs and win over everything, as in Ansible. Throws an InventoryError listing
 * every problem found, each located in the file.
 */
export function loadInventory(file: string, extraVars: Record<string, string> = {}): Inventory {
  const src = readInventorySource(file);
  const loader = new Loader(src);
  const { shape, problems } = readShape(src);
  loader.problems.push(...problems);
  if (!shape) throw new InventoryError(sortProblems(loader.problems));
  shape.hosts.sort((a, b) => GROUP_ORDER[a.group] - GROUP_ORDER[b.group]);

  for (const [key, value] of Object.entries(extraVars)) {
    if (CONTROL_IN_TEXT.test(value))
      loader.at({ level: 'extra', key }, 'the value holds a control character: remove it');
  }
  const extra = Object.fromEntries(Object.entries(extraVars).map(([k, v]) => [k, parseExtraVarValue(v)]));
  checkKeys(loader, shape, extra);
  const knownExtra = knownOnly(extra);
  const shared = new SharedRenders(new TemplateRenderer(), varyingNames(shape));
  const { scopes, builtins } = hostScopes(loader, shape, knownExtra, file, shared);
  const settings = resolveSettings(loader, shape, knownExtra, file, builtins, shared);

  const hosts: InventoryHost[] = [];
  const incomplete = new Set<Group>();
  for (const entry of shape.hosts) {
    const host = readHost(loader, entry, scopes.get(entry.name)!);
    if (host) hosts.push(host);
    else incomplete.add(entry.group);
  }
  const entries = new Map(shape.hosts.map((e) => [e.name, e]));
  const topology = resolveTopology(hosts, incomplete, (host, field, message) => {
    const origin = scopes.get(host.name)!.origin(field) ?? {
      level: 'host',
      path: [...entries.get(host.name)!.path, field],
    };
    loader.at(origin, origin.level === 'host' ? message : `host ${host.name}: ${message}`);
  });
  if (loader.problems.length > 0 || incomplete.size > 0)
    throw new InventoryError(sortProblems(loader.problems));

  return {
    file: path.resolve(file),
    settings,
    hosts,
    prefill: topology.prefill,
    decode: topology.decode,
    proxy: hosts.find((h) => h.group === 'C')!.name,
  };
}

/** Every address an inventory's hosts are reached at, deduplicated and sorted. */
export function inventoryAddresses(file: string, extraVars: Record<string, string> = {}): string[] {
  return [...new Set(loadInventory(file, extraVars).hosts.map((h) => h.address))].sort();
}

/**
 * One rendered variable of one host, with Ansible precedence, for the worker's secret resolver
 * (e.g. `ansible_password`). Reads only what it needs: the other hosts' problems do not matter here.
 */
export function loadInventorySecret(file: string, host: string, key: string): string {
  const src = readInventorySource(file);
  const loader = new Loader(src);
  const { shape, problems } = readShape(src);
  if (!shape) throw new InventoryError(sortProblems(problems));
  const shared = new SharedRenders(new TemplateRenderer(), varyingNames(shape));
  const { scopes } = hostScopes(loader, shape, {}, file, shared);
  const scope = scopes.get(host);
  if (!scope) throw new Error(`host ${host} is not in ${file}`);
  const value = scope.value(key);
  if (typeof value !== 'string' || value === '') throw new Error(`host ${host} has no ${key} in ${file}`);
  return value;
}
