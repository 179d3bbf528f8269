import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InventoryError } from '../../src/inventory';
import { planFromFile } from '../../src/client/planFile';
import { stateDir } from '../../src/shared/paths';
import { folderOverlapViolations } from '../../src/shared/hostPaths';

const BASE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'inventories', 'base.yml'), 'utf8');
// base.yml's MODEL_PATH is /data/models/m; the managed folders are the seed's defaults
// (SCRIPTS_PATH /tmp/scripts_path, ranktable_save_path /tmp/ranktable_save_path,
// LOG_PATH /data/log_path, CODE_PATH /data/local_code_path).

const STATE = stateDir();

/**
 * Paths that would leak the executor's secrets to every host, mount secrets or system state into
 * every container, or write into state other software owns — each with the rule its refusal names
 * and a word of the reason the message gives.
 */
const REFUSED: [setting: string, value: string, rule: RegExp][] = [
  // LOCAL_CODE_PATH is copied to every host.
  [
    'LOCAL_CODE_PATH',
    '~/.ssh',
    /path rule "executor-secrets": "~\/.ssh" holds SSH keys, and it is copied to every host/,
  ],
  ['LOCAL_CODE_PATH', '/root/.ssh/x', /"executor-secrets".*holds SSH keys/],
  ['LOCAL_CODE_PATH', '~/', /"executor-secrets".*holds a home folder and its SSH keys/],
  ['LOCAL_CODE_PATH', '/root', /"executor-secrets".*holds a home folder/],
  ['LOCAL_CODE_PATH', '/home/u', /"executor-secrets".*holds a home folder/],
  ['LOCAL_CODE_PATH', '/home', /"executor-secrets".*holds a home folder/],
  ['LOCAL_CODE_PATH', '/', /"executor-secrets".*holds a home folder/],
  ['LOCAL_CODE_PATH', '/etc', /"executor-secrets": "\/etc" is the system folder \/etc, and it is copied/],
  ['LOCAL_CODE_PATH', '/etc/omni', /"executor-secrets".*inside the system folder \/etc/],
  ['LOCAL_CODE_PATH', '~/.omni-deploy', /"executor-secrets".*omni-deploy's own .omni-deploy folder/],
  ['LOCAL_CODE_PATH', STATE, /"executor-secrets".*holds omni-deploy's state folder/],
  ['LOCAL_CODE_PATH', path.dirname(STATE), /"executor-secrets".*holds omni-deploy's state folder/],
  ['LOCAL_CODE_PATH', path.join(STATE, 'sim'), /"executor-secrets".*inside omni-deploy's state folder/],
  ['LOCAL_CODE_PATH', path.join(STATE, 'certs'), /"executor-secrets".*inside omni-deploy's state folder/],
  // Fetched logs are written into LOG_PATH_IN_EXECUTOR.
  [
    'LOG_PATH_IN_EXECUTOR',
    '/etc',
    /"executor-secrets".*\/etc, and omni-deploy writes the fetched logs into it/,
  ],
  ['LOG_PATH_IN_EXECUTOR', '~/.ssh/logs', /"executor-secrets".*holds SSH keys/],
  ['LOG_PATH_IN_EXECUTOR', '/proc/self', /"executor-secrets".*\/proc/],
  ['LOG_PATH_IN_EXECUTOR', STATE, /"executor-secrets".*state folder/],
  // MODEL_PATH is mounted into every engine container.
  ['MODEL_PATH', '/etc/ssh', /path rule "ssh-keys"|path rule "system-folder"/],
  [
    'MODEL_PATH',
    '/etc',
    /path rule "system-folder": "\/etc" is a system folder, and MODEL_PATH is mounted into every engine container/,
  ],
  [
    'MODEL_PATH',
    '/root/.ssh',
    /path rule "ssh-keys": "\/root\/.ssh" holds SSH keys, and MODEL_PATH is mounted/,
  ],
  ['MODEL_PATH', '/data/u/.ssh/m', /path rule "ssh-keys"/],
  ['MODEL_PATH', '/proc', /path rule "system-folder"/],
  ['MODEL_PATH', '/proc/1/root', /path rule "system-folder".*inside the system folder \/proc/],
  ['MODEL_PATH', '/sys/fs', /path rule "system-folder"/],
  ['MODEL_PATH', '/dev/shm', /path rule "system-folder"/],
  ['MODEL_PATH', '/boot', /path rule "system-folder"/],
  ['MODEL_PATH', '/', /path rule "root"/],
  ['MODEL_PATH', '/var/lib/docker', /path rule "engine-state".*Docker/],
  ['MODEL_PATH', '/var/lib/containers/storage', /path rule "engine-state".*podman/],
  ['MODEL_PATH', '/var/log/journal', /path rule "engine-state".*journal/],
  ['MODEL_PATH', '/root/.omni-deploy', /path rule "tool-state"/],
  // Managed folders: the container engine's and journal's state, the tool's manifest folder.
  ['CODE_PATH', '/var/lib/containers/omni', /path rule "engine-state": .* inside \/var\/lib\/containers/],
  ['LOG_PATH', '/var/lib/docker/logs', /path rule "engine-state"/],
  ['LOG_PATH', '/var/log/journal/omni', /path rule "engine-state".*journal/],
  ['SCRIPTS_PATH', '/var/lib/containerd/x', /path rule "engine-state"/],
  ['ranktable_save_path', '/root/.omni-deploy/clusters', /path rule "tool-state".*ownership manifests/],
  ['SCRIPTS_PATH', '/data/omni/.omni-deploy', /path rule "tool-state"/],
  // Overlapping tool folders (the others keep their defaults).
  [
    'SCRIPTS_PATH',
    '/data/local_code_path',
    /path rule "overlap": SCRIPTS_PATH .* the same folder as CODE_PATH/,
  ],
  ['SCRIPTS_PATH', '/data/local_code_path/scripts', /path rule "overlap": SCRIPTS_PATH .* inside CODE_PATH/],
  ['SCRIPTS_PATH', '/data/log_path/scripts', /path rule "overlap": SCRIPTS_PATH .* inside LOG_PATH/],
  ['SCRIPTS_PATH', '/data/log_path', /path rule "overlap"/],
  ['CODE_PATH', '/tmp/scripts_path/code', /path rule "overlap": CODE_PATH .* inside SCRIPTS_PATH/],
  ['LOG_PATH', '/tmp/scripts_path/logs', /path rule "overlap": LOG_PATH .* inside SCRIPTS_PATH/],
  ['LOG_PATH', '/data/local_code_path/logs', /path rule "overlap": LOG_PATH .* inside CODE_PATH/],
  [
    'ranktable_save_path',
    '/data/local_code_path/rt',
    /path rule "overlap": ranktable_save_path .* inside CODE_PATH/,
  ],
];

/** Their neighbours, which stay valid. */
const ACCEPTED: [setting: string, value: string][] = [
  ['LOCAL_CODE_PATH', '~/code'],
  ['LOCAL_CODE_PATH', '/root/omni/code'],
  ['LOCAL_CODE_PATH', '/home/u/code'],
  ['LOCAL_CODE_PATH', '/data/local_code_path'],
  ['LOCAL_CODE_PATH', '/etcetera/code'],
  ['LOCAL_CODE_PATH', '/data/ssh-code'],
  // The simulated cluster's inventories keep the executor's folders here (inventories/sim-*.yml).
  ['LOCAL_CODE_PATH', path.join(STATE, 'sim', 'executor', 'sim-2P1D', 'local_code_path')],
  ['LOG_PATH_IN_EXECUTOR', path.join(STATE, 'sim', 'executor', 'sim-2P1D', 'log_path')],
  ['LOG_PATH_IN_EXECUTOR', '/data/log_path_in_executor'],
  ['LOG_PATH_IN_EXECUTOR', '~/omni-logs'],
  ['MODEL_PATH', '/data/models/DeepSeek'],
  ['MODEL_PATH', '/usr/share/models/m'],
  ['MODEL_PATH', '/var/lib/models/m'],
  ['MODEL_PATH', '/var/lib/docker-models/m'],
  ['MODEL_PATH', '/home/u/models/m'],
  ['MODEL_PATH', '/mnt/nvme/ssh/m'],
  ['CODE_PATH', '/var/lib/omni-deploy/code'],
  ['LOG_PATH', '/var/log/omni-deploy'],
  ['LOG_PATH', '/var/log/journald-export'],
  // Documented as harmless: both receive only files the tool writes and lists in its manifest.
  ['ranktable_save_path', '/tmp/scripts_path/ranktable'],
  ['SCRIPTS_PATH', '/tmp/ranktable_save_path/scripts'],
  ['SCRIPTS_PATH', '/data/log_path_2'],
];

describe('paths that could leak secrets or touch state the tool does not own are refused at plan time', () => {
  let dir: string;
  let n = 0;
  const inventoryWith = (key: string, value: string) => {
    const file = path.join(dir, `secret-paths-${n++}.yml`);
    const text = BASE.includes(`    ${key}:`)
      ? BASE.replace(new RegExp(`    ${key}:.*`), `    ${key}: "${value}"`)
      : BASE.replace('  vars:\n', `  vars:\n    ${key}: "${value}"\n`);
    fs.writeFileSync(file, text);
    return file;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-secret-paths-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [key, value, rule] of REFUSED) {
    it(`refuses ${key}: ${value}`, () => {
      let problems: InventoryError['problems'] | undefined;
      try {
        planFromFile(inventoryWith(key, value));
      } catch (err) {
        assert.ok(err instanceof InventoryError, String(err));
        problems = err.problems;
      }
      assert.ok(problems, `${key}: ${value} was planned`);
      assert.ok(
        problems.some((p) => p.path === `all.vars.${key}`),
        `located at the setting: ${JSON.stringify(problems)}`,
      );
      assert.match(problems.map((p) => p.message).join('\n'), rule);
      // The messages say what the tool does with the folder, never that cleanup wipes it.
      assert.doesNotMatch(problems.map((p) => p.message).join('\n'), /wipes/);
    });
  }

  for (const [key, value] of ACCEPTED) {
    it(`accepts ${key}: ${value}`, () => {
      const plan = planFromFile(inventoryWith(key, value));
      assert.equal((plan.settings as unknown as Record<string, string>)[key], value);
    });
  }

  it('reports an overlapping pair once, at the inner folder', () => {
    assert.deepEqual(
      folderOverlapViolations({ SCRIPTS_PATH: '/a/b', LOG_PATH: '/a', CODE_PATH: '/a' }).map(
        (v) => v.setting,
      ),
      ['SCRIPTS_PATH', 'SCRIPTS_PATH', 'CODE_PATH'],
    );
    assert.deepEqual(folderOverlapViolations({ SCRIPTS_PATH: '/a', ranktable_save_path: '/a' }), []);
  });
});
