/**
 * Rules for the paths an inventory configures. One module for every place that relies on them:
 * the inventory loader checks them at plan time, and workflow input validation and activities
 * (cleanup above all) check them again before anything is created or wiped on a host. Pure: no
 * I/O and no Node built-ins, so it also runs in Temporal's deterministic workflow sandbox.
 *
 * Three kinds of path:
 * - a host path (MODEL_PATH, the sides of container_mounts and container_devices): absolute,
 *   normalised, a conservative character set, bounded length;
 * - a managed folder (SCRIPTS_PATH, ranktable_save_path, LOG_PATH, CODE_PATH): a host path that
 *   omni-deploy creates and writes its own files into on every host (cleanup removes exactly the
 *   files its manifest lists, src/remote/ownership.ts), so it must never be a place the tool does
 *   not own — the root, a system folder, SSH keys, the model, a container engine's or the
 *   journal's state, omni-deploy's own manifest folder;
 * - the model folder (MODEL_PATH): mounted into every engine container, so never a folder of
 *   secrets or system state;
 * - an executor path (LOG_PATH_IN_EXECUTOR, LOCAL_CODE_PATH, known_hosts_file,
 *   ansible_ssh_private_key_file): a file or folder on the machine that runs the deploy. The two
 *   folders among them (LOCAL_CODE_PATH is copied to every host, fetched logs are written into
 *   LOG_PATH_IN_EXECUTOR) must neither hold nor lie inside the executor's secrets.
 */

/** The short name of a broken rule, quoted in every message so operators can look it up. */
export type PathRule =
  | 'absolute'
  | 'normalised'
  | 'characters'
  | 'length'
  | 'root'
  | 'system-folder'
  | 'ssh-keys'
  | 'model-folder'
  | 'engine-state'
  | 'tool-state'
  | 'overlap'
  | 'executor-secrets';

export interface PathViolation {
  rule: PathRule;
  /** For the operator: what is wrong and what to do. */
  message: string;
}

/** Linux's PATH_MAX and NAME_MAX. */
export const PATH_MAX = 4096;
export const PATH_SEGMENT_MAX = 255;

/**
 * Host paths travel into shell scripts, `docker run -v host:container[:ro]` and `--device`
 * specs, sed expressions and remote `sh -c` arguments, so they keep to characters none of those
 * treats specially: letters, digits and `_ . - + @ % =`, with `/` between segments. No spaces or
 * quotes, no `$` or backquote, no glob or shell operators (`* ? [ ~ ! { } ( ) < > ; & | #`), and
 * no `:` or `,`, which separate the parts of docker's volume and mount specs.
 */
const HOST_PATH_CHARS = /^[A-Za-z0-9_.\-+@%=/]*$/;
const HOST_PATH_CHAR = /[A-Za-z0-9_.\-+@%=/]/;

/** C0 controls, DEL and C1 controls: never part of a file name anyone means to write. */
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_CHAR = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Folders owned by the operating system: nothing omni-deploy creates belongs anywhere inside them
 * (wiping `/usr/local/Ascend/x` or `/etc/systemd/system` would break the host).
 */
const SYSTEM_TREES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/proc',
  '/sbin',
  '/sys',
  '/usr',
];
/**
 * Folders that hold other people's data one level down (`/home/u`, `/var/log`, `/opt/x`,
 * `/root/x`): these and their direct children are refused; deeper folders such as
 * `/var/lib/omni-deploy/scripts` are fine.
 */
const SHARED_ROOTS = ['/home', '/opt', '/root', '/run', '/srv', '/var'];
/**
 * Scratch and mount roots: the folders themselves are refused, their children are where the
 * seed's defaults live (`/tmp/scripts_path`, `/data/log_path`).
 */
const SCRATCH_ROOTS = ['/tmp', '/data', '/mnt', '/media'];

/**
 * State that a host's container engine or journal owns, deeper than SHARED_ROOTS reaches
 * (`/var/lib/docker/x` is two levels below `/var`): writing or mounting there corrupts images,
 * containers or logs the host relies on.
 */
const ENGINE_STATE_TREES: [string, string][] = [
  ['/var/lib/containers', "the container engine's state (podman)"],
  ['/var/lib/docker', "the container engine's state (Docker)"],
  ['/var/lib/containerd', "the container runtime's state (containerd)"],
  ['/var/log/journal', "the systemd journal's state"],
  ['/run/log/journal', "the systemd journal's state"],
];

/** omni-deploy's own folder in a login's home on every host: the ownership manifests cleanup reads. */
export const TOOL_STATE_SEGMENT = '.omni-deploy';

/** What a managed folder is, for the messages that refuse one. */
const MANAGED = 'omni-deploy creates this folder on every host and writes its own files into it';

const quote = (s: string): string => {
  const shown = s.length > 80 ? `${s.slice(0, 77)}…` : s;
  return JSON.stringify(shown);
};

function describeChar(c: string): string {
  if (c === ' ') return 'a space';
  if (c === '\n') return 'a newline';
  if (c === '\t') return 'a tab';
  if (c === '\0') return 'a NUL byte';
  const code = c.codePointAt(0)!;
  if (CONTROL_CHAR.test(c) || code > 0x7e) return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return `"${c}"`;
}

/** Distinct characters of `s` that `allowed` refuses, described for a message, at most five. */
function badChars(s: string, allowed: (c: string) => boolean): string[] {
  const seen = new Set<string>();
  for (const c of s) {
    if (!allowed(c)) seen.add(c);
    if (seen.size === 5) break;
  }
  return [...seen].map(describeChar);
}

/**
 * What `path` means once `.`, `..` and repeated or trailing slashes are resolved, the way the
 * kernel reads it (`..` at the root stays at the root). `~/` (an executor path) is kept as the
 * start; undefined when `..` climbs above it.
 */
export function lexicalNormalForm(path: string): string | undefined {
  const home = path === '~' || path.startsWith('~/');
  const rest = home ? path.slice(1) : path;
  const out: string[] = [];
  for (const segment of rest.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (out.length > 0) out.pop();
      else if (home) return undefined;
      continue;
    }
    out.push(segment);
  }
  if (home) return out.length === 0 ? '~' : `~/${out.join('/')}`;
  return `/${out.join('/')}`;
}

function lengthViolations(path: string): PathViolation[] {
  if (path.length > PATH_MAX) {
    return [
      {
        rule: 'length',
        message: `the path is ${path.length} characters long: paths are limited to ${PATH_MAX} characters`,
      },
    ];
  }
  const long = path.split('/').find((s) => s.length > PATH_SEGMENT_MAX);
  if (long === undefined) return [];
  return [
    {
      rule: 'length',
      message: `${quote(long)} is ${long.length} characters long: a file or folder name is limited to ${PATH_SEGMENT_MAX} characters`,
    },
  ];
}

function normalisedViolations(path: string, means: string | undefined): PathViolation[] {
  if (means === path) return [];
  const meaning = means === undefined ? 'it climbs above its start with ".."' : `it means ${quote(means)}`;
  return [
    {
      rule: 'normalised',
      message: `${quote(path)} is not normalised (${meaning}): write the folder itself, without "." or ".." segments, "//" or a trailing "/"`,
    },
  ];
}

/**
 * The rules every path configured for the hosts follows: absolute, normalised, conservative
 * characters, bounded length. Empty when `path` follows them all.
 */
export function hostPathViolations(path: string): PathViolation[] {
  if (!path.startsWith('/')) {
    return [{ rule: 'absolute', message: `must be an absolute path starting with "/", got ${quote(path)}` }];
  }
  const violations: PathViolation[] = [];
  if (!HOST_PATH_CHARS.test(path)) {
    violations.push({
      rule: 'characters',
      message: `${quote(path)} contains ${badChars(path, (c) => HOST_PATH_CHAR.test(c)).join(', ')}: host paths may use only letters, digits, "_", ".", "-", "+", "@", "%", "=" and "/"`,
    });
  }
  violations.push(...lengthViolations(path));
  violations.push(...normalisedViolations(path, lexicalNormalForm(path)));
  return violations;
}

/** `path` is `folder` or inside it; both normalised absolute paths. */
export function isWithin(path: string, folder: string): boolean {
  return path === folder || folder === '/' || path.startsWith(`${folder}/`);
}

const depthBelow = (path: string, folder: string) =>
  path === folder ? 0 : path.slice(folder.length + 1).split('/').length;

const OWN_FOLDER_HINT = 'choose a folder of its own, like "/data/omni-deploy/scripts"';

function systemFolderViolation(path: string): PathViolation | undefined {
  const tree = SYSTEM_TREES.find((t) => isWithin(path, t));
  if (tree) {
    return {
      rule: 'system-folder',
      message: `${quote(path)} is ${path === tree ? 'a system folder' : `inside the system folder ${tree}`}, which the operating system owns: ${OWN_FOLDER_HINT}`,
    };
  }
  const shared = SHARED_ROOTS.find((r) => isWithin(path, r) && depthBelow(path, r) <= 1);
  if (shared) {
    return {
      rule: 'system-folder',
      message: `${quote(path)} is ${path === shared ? 'a system folder' : `directly inside ${shared}, where other software keeps its data`}: ${OWN_FOLDER_HINT} (a deeper folder such as ${quote(`${path}/omni-deploy`)} is fine)`,
    };
  }
  if (SCRATCH_ROOTS.includes(path)) {
    return {
      rule: 'system-folder',
      message: `${quote(path)} is shared by everything on the host: use a folder inside it, like ${quote(`${path}/omni-deploy`)}`,
    };
  }
  return undefined;
}

/**
 * The rules for a managed folder — one omni-deploy creates and writes its own files into on every
 * host (SCRIPTS_PATH, ranktable_save_path, LOG_PATH, CODE_PATH): a host path that is not the root,
 * not a system folder (see SYSTEM_TREES, SHARED_ROOTS, SCRATCH_ROOTS), not inside a container
 * engine's or the journal's state or omni-deploy's manifest folder, holds no SSH keys, and neither
 * is, contains nor lies inside the model folder `modelPath` (pass MODEL_PATH whenever it is known).
 * The folder rules are only judged once the host path rules hold, so each refusal has one cause.
 * Empty when `folder` may be managed.
 */
export function managedFolderViolations(folder: string, modelPath?: string): PathViolation[] {
  const general = hostPathViolations(folder);
  if (general.length > 0) return general;
  if (folder === '/') {
    return [{ rule: 'root', message: `"/" is the root folder, and ${MANAGED}: ${OWN_FOLDER_HINT}` }];
  }
  const violations: PathViolation[] = [];
  if (folder.split('/').includes('.ssh') || isWithin(folder, '/etc/ssh')) {
    violations.push({
      rule: 'ssh-keys',
      message: `${quote(folder)} holds SSH keys, and ${MANAGED}: ${OWN_FOLDER_HINT}`,
    });
  }
  const system = systemFolderViolation(folder);
  if (system) violations.push(system);
  violations.push(...stateViolations(folder, MANAGED));
  if (modelPath !== undefined && hostPathViolations(modelPath).length === 0) {
    const relation =
      folder === modelPath
        ? 'is the model folder MODEL_PATH'
        : isWithin(folder, modelPath)
          ? `is inside the model folder MODEL_PATH ${quote(modelPath)}`
          : isWithin(modelPath, folder)
            ? `contains the model folder MODEL_PATH ${quote(modelPath)}`
            : undefined;
    if (relation) {
      violations.push({
        rule: 'model-folder',
        message: `${quote(folder)} ${relation}, and ${MANAGED}: keep omni-deploy's folders and the model apart`,
      });
    }
  }
  return violations;
}

/** A host path inside a container engine's or the journal's state, or omni-deploy's manifest folder. */
function stateViolations(path: string, why: string): PathViolation[] {
  const violations: PathViolation[] = [];
  const engine = ENGINE_STATE_TREES.find(([tree]) => isWithin(path, tree));
  if (engine) {
    violations.push({
      rule: 'engine-state',
      message: `${quote(path)} is ${path === engine[0] ? '' : 'inside '}${engine[0]}, ${engine[1]}, and ${why}: ${OWN_FOLDER_HINT}`,
    });
  }
  if (path.split('/').includes(TOOL_STATE_SEGMENT)) {
    violations.push({
      rule: 'tool-state',
      message: `${quote(path)} is in omni-deploy's own ${TOOL_STATE_SEGMENT} folder, which holds the ownership manifests cleanup relies on, and ${why}: ${OWN_FOLDER_HINT}`,
    });
  }
  return violations;
}

/** Folders that hold what the host's kernel or its administration owns: nothing to mount as a model. */
const MODEL_REFUSED_TREES = ['/boot', '/dev', '/etc', '/proc', '/sys'];

/**
 * The rules for MODEL_PATH, which every engine container mounts: a host path (hostPathViolations)
 * that is not the root, not inside `/etc /proc /sys /dev /boot`, holds no SSH keys, and is not a
 * container engine's or the journal's state or omni-deploy's manifest folder. Empty when fine.
 */
export function modelPathViolations(path: string): PathViolation[] {
  const general = hostPathViolations(path);
  if (general.length > 0) return general;
  const mounted = 'MODEL_PATH is mounted into every engine container';
  const hint = 'point MODEL_PATH at the folder that holds the model, like "/data/models/DeepSeek-R1"';
  if (path === '/') {
    return [{ rule: 'root', message: `"/" is the root folder, and ${mounted}: ${hint}` }];
  }
  const violations: PathViolation[] = [];
  if (path.split('/').includes('.ssh')) {
    violations.push({ rule: 'ssh-keys', message: `${quote(path)} holds SSH keys, and ${mounted}: ${hint}` });
  }
  const tree = MODEL_REFUSED_TREES.find((t) => isWithin(path, t));
  if (tree) {
    violations.push({
      rule: 'system-folder',
      message: `${quote(path)} is ${path === tree ? 'a system folder' : `inside the system folder ${tree}`}, and ${mounted}: ${hint}`,
    });
  }
  violations.push(...stateViolations(path, mounted));
  return violations;
}

/**
 * Pairs of managed folders that may nest: both only ever receive files the tool writes one by one
 * and lists in its manifest, so neither can remove or expose the other's. Every other pair is
 * refused when one is the other or lies inside it: a code sync writes the executor's tree over
 * CODE_PATH (files of the same name are replaced), LOG_PATH is written by the engines and copied
 * whole to the executor by fetch_log, so scripts or ranktables inside them could be overwritten or
 * copied off the host,
 * and code or logs inside SCRIPTS_PATH would be mixed with what the tool owns there.
 */
const NESTING_ALLOWED: [string, string][] = [['SCRIPTS_PATH', 'ranktable_save_path']];

/**
 * Managed folders (by setting name) that are the same folder or one inside another, except the
 * pairs of NESTING_ALLOWED. Each overlapping pair is reported once, at the inner folder's setting;
 * a pair that is one folder at the setting the operator wrote (`written`), or else the later one.
 */
export function folderOverlapViolations(
  folders: Record<string, string>,
  written: (setting: string) => boolean = () => false,
): { setting: string; violation: PathViolation }[] {
  const names = Object.keys(folders);
  const found: { setting: string; violation: PathViolation }[] = [];
  for (const inner of names) {
    for (const outer of names) {
      if (inner === outer || !isWithin(folders[inner]!, folders[outer]!)) continue;
      const same = folders[inner] === folders[outer];
      if (same) {
        const rank = (k: string) => (written(k) ? names.length : 0) + names.indexOf(k);
        if (rank(inner) < rank(outer)) continue;
      }
      if (NESTING_ALLOWED.some(([a, b]) => (a === inner && b === outer) || (a === outer && b === inner)))
        continue;
      found.push({
        setting: inner,
        violation: {
          rule: 'overlap',
          message: `${inner} ${quote(folders[inner]!)} is ${same ? 'the same folder as' : 'inside'} ${outer} ${quote(folders[outer]!)}: omni-deploy's folders must be apart (a code sync writes the executor's tree over CODE_PATH, fetch_log copies all of LOG_PATH to the executor); give each a folder of its own`,
        },
      });
    }
  }
  return found;
}

/**
 * The rules for the executor's two folders, LOCAL_CODE_PATH (copied to every host by sync_code)
 * and LOG_PATH_IN_EXECUTOR (fetched logs are written into it), on top of executorPathViolations:
 * neither may hold or lie inside a folder of secrets or system state — SSH keys (any `.ssh`, or a
 * home, which holds one: `/`, `~`, `/root`, `/home`, `/home/NAME`), `/etc /proc /sys /dev /boot`,
 * omni-deploy's manifest folder (`.omni-deploy`) and its state folder `stateDir` (the Temporal
 * database, certificates, the simulated cluster's keys) — except the simulated cluster's executor
 * area inside it (`<stateDir>/sim/executor`, where the sim inventories keep these folders).
 * `path` is normalised (the loader's executorPath does that); `~/…` is compared as written.
 */
export function executorFolderViolations(setting: string, path: string, stateDir?: string): PathViolation[] {
  const use =
    setting === 'LOCAL_CODE_PATH'
      ? 'it is copied to every host'
      : 'omni-deploy writes the fetched logs into it';
  const refuse = (what: string): PathViolation => ({
    rule: 'executor-secrets',
    message: `${quote(path)} ${what}, and ${use}: choose a folder of its own, like "/data/omni-deploy/${setting === 'LOCAL_CODE_PATH' ? 'code' : 'logs'}"`,
  });
  const violations: PathViolation[] = [];
  const segments = path.split('/');
  const home =
    path === '~' || path === '/' || path === '/root' || path === '/home' || /^\/home\/[^/]+$/.test(path);
  if (segments.includes('.ssh')) violations.push(refuse('holds SSH keys'));
  else if (home) violations.push(refuse('holds a home folder and its SSH keys'));
  const tree = MODEL_REFUSED_TREES.find((t) => isWithin(path, t));
  if (tree)
    violations.push(refuse(`is ${path === tree ? 'the system folder' : 'inside the system folder'} ${tree}`));
  else if (path === '/') violations.push(refuse('holds /etc'));
  if (segments.includes(TOOL_STATE_SEGMENT))
    violations.push(refuse(`is in omni-deploy's own ${TOOL_STATE_SEGMENT} folder`));
  if (stateDir !== undefined && path.startsWith('/')) {
    if (isWithin(stateDir, path)) {
      violations.push(
        refuse(
          `holds omni-deploy's state folder ${quote(stateDir)} (keys, certificates, the Temporal database)`,
        ),
      );
    } else if (isWithin(path, stateDir) && !isWithin(path, `${stateDir}/sim/executor`)) {
      violations.push(
        refuse(
          `is inside omni-deploy's state folder ${quote(stateDir)} (keys, certificates, the Temporal database)`,
        ),
      );
    }
  }
  return violations;
}

/**
 * The rules for a path on the executor, the machine that runs the deploy: absolute or starting
 * with `~/` (expanded there), normalised, bounded length, no control characters. Other characters,
 * spaces included, are fine: these paths are only opened by the executor's own processes as
 * arguments, never pasted into a remote shell, and a checkout may well live in "~/My Projects".
 * `inventory_dir/../x` style paths are normalised by the loader before this check (see
 * lexicalNormalForm).
 */
export function executorPathViolations(path: string): PathViolation[] {
  if (!path.startsWith('/') && !path.startsWith('~/')) {
    return [
      {
        rule: 'absolute',
        message: `must be an absolute path (starting with "/" or "~/"), got ${quote(path)}`,
      },
    ];
  }
  const violations: PathViolation[] = [];
  if (CONTROL_CHAR.test(path)) {
    violations.push({
      rule: 'characters',
      message: `${quote(path)} contains ${badChars(path, (c) => !CONTROL_CHAR.test(c)).join(', ')}: control characters are not allowed in paths`,
    });
  }
  violations.push(...lengthViolations(path));
  violations.push(...normalisedViolations(path, lexicalNormalForm(path)));
  return violations;
}

/** One line for a violation, naming its rule: `path rule "normalised": "/srv/." is not …`. */
export function formatPathViolation(v: PathViolation): string {
  return `path rule "${v.rule}": ${v.message}`;
}
