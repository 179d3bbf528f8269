import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatProblem, InventoryError, loadInventory } from '../../src/inventory';
import { planFromFile } from '../../src/client/planFile';

const BASE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'inventories', 'base.yml'), 'utf8');
// base.yml's MODEL_PATH is /data/models/m.

/**
 * Paths that must never become a folder omni-deploy creates and wipes, each with the rule that
 * refuses it. Written as YAML double-quoted strings, so `\n` is a newline in the value.
 */
const HOSTILE: [string, RegExp][] = [
  ['/', /path rule "root"/],
  ['/.', /path rule "normalised": "\/\." is not normalised \(it means "\/"\)/],
  ['/./.', /path rule "normalised"/],
  ['/srv/.', /path rule "normalised": "\/srv\/\." is not normalised \(it means "\/srv"\)/],
  ['/srv/', /path rule "normalised"/],
  ['/tmp/..', /path rule "normalised": "\/tmp\/\.\." is not normalised \(it means "\/"\)/],
  ['/tmp/x/../../etc', /path rule "normalised".*it means "\/etc"/],
  ['//tmp/x', /path rule "normalised"/],
  ['/tmp//x', /path rule "normalised"/],
  ['/tmp/./x', /path rule "normalised"/],
  ['/tmp/x/', /path rule "normalised"/],
  ['/etc', /path rule "system-folder": "\/etc" is a system folder/],
  ['/etc/ssh', /path rule "ssh-keys"/],
  ['/etc/ssh/x', /path rule "ssh-keys"/],
  ['/etc/systemd/system', /path rule "system-folder": .* inside the system folder \/etc/],
  ['/root/.ssh', /path rule "ssh-keys"/],
  ['/home/u/.ssh/keys', /path rule "ssh-keys"/],
  ['/data/omni/.ssh', /path rule "ssh-keys"/],
  ['/root/x', /path rule "system-folder": .* directly inside \/root/],
  ['/home/u', /path rule "system-folder"/],
  ['/var/log', /path rule "system-folder": .* directly inside \/var/],
  ['/usr/local', /path rule "system-folder"/],
  ['/usr/local/Ascend/driver', /path rule "system-folder"/],
  ['/opt/x', /path rule "system-folder"/],
  ['/srv', /path rule "system-folder"/],
  ['/boot/efi/EFI', /path rule "system-folder"/],
  ['/proc/1/x', /path rule "system-folder"/],
  ['/dev/shm', /path rule "system-folder"/],
  ['/tmp', /path rule "system-folder": "\/tmp" is shared by everything on the host/],
  ['/data', /path rule "system-folder"/],
  ['/mnt', /path rule "system-folder"/],
  ['/data/models', /path rule "model-folder": "\/data\/models" contains the model folder/],
  ['/data/models/m', /path rule "model-folder": "\/data\/models\/m" is the model folder/],
  ['/data/models/m/sub', /path rule "model-folder": .* is inside the model folder/],
  ['/tmp/a$b', /path rule "characters": "\/tmp\/a\$b" contains "\$"/],
  ['/tmp/a b', /path rule "characters": .* contains a space/],
  ['/tmp/a;rm -rf /', /path rule "characters": .* contains ";", a space/],
  ['/tmp/$(id)', /path rule "characters": .* contains "\$", "\(", "\)"/],
  ['/tmp/`id`', /path rule "characters"/],
  ['/tmp/a\\nb', /path rule "characters": .* contains a newline/],
  ['/tmp/a\\tb', /path rule "characters": .* contains a tab/],
  ["/tmp/a'b", /path rule "characters"/],
  ['/tmp/a\\"b', /path rule "characters"/],
  ['/tmp/a*', /path rule "characters"/],
  ['/tmp/a?', /path rule "characters"/],
  ['/tmp/[a]', /path rule "characters"/],
  ['/tmp/~x', /path rule "characters"/],
  ['/tmp/a&b|c', /path rule "characters"/],
  ['/tmp/{a,b}', /path rule "characters"/],
  ['/tmp/<a>#!', /path rule "characters"/],
  ['/tmp/a:b', /path rule "characters"/],
  ['/tmp/é', /path rule "characters": .* contains U\+00E9/],
  [
    'relative/path',
    /path rule "absolute": must be an absolute path starting with "\/", got "relative\/path"/,
  ],
  ['~/x', /path rule "absolute"/],
  ['', /path rule "absolute"/],
  [
    `/tmp/${'x'.repeat(256)}`,
    /path rule "length": .* is 256 characters long: a file or folder name is limited to 255/,
  ],
  [`/tmp${'/abcdefg'.repeat(520)}`, /path rule "length": the path is 4164 characters long/],
  // Refused as a control character by the YAML reader, or as a NUL byte by the path rules.
  ['/tmp/a\\0b', /control character|a NUL byte/],
];

/**
 * Good places for a managed folder; SCRIPTS_PATH's and ranktable_save_path's defaults among them
 * (LOG_PATH's and CODE_PATH's would overlap those folders: see the overlap rules below).
 */
const FINE = [
  '/tmp/scripts_path',
  '/tmp/ranktable_save_path',
  '/data/log_path2',
  '/data/local_code_path_2',
  '/data/omni/scripts',
  '/var/lib/omni-deploy',
  '/var/lib/omni-deploy/x',
  '/srv/omni/scripts',
  '/opt/omni/scripts',
  '/home/u/omni',
  '/root/omni/ranktable',
  '/mnt/nvme0/omni',
  '/data/models-cache/x',
  '/data/a_b-c.d+e@f%g=h',
];

const MANAGED = ['SCRIPTS_PATH', 'ranktable_save_path', 'LOG_PATH', 'CODE_PATH'];

describe('configured paths are judged at plan time', () => {
  let dir: string;
  let n = 0;
  const write = (text: string) => {
    const file = path.join(dir, `paths-${n++}.yml`);
    fs.writeFileSync(file, text);
    return file;
  };
  /** base.yml with `key: "value"` as the first line of all.vars (line 4). */
  const inventoryWith = (key: string, value: string) =>
    write(BASE.replace('  vars:\n', `  vars:\n    ${key}: "${value}"\n`));

  const problemsOf = (file: string, extraVars: Record<string, string> = {}) => {
    try {
      planFromFile(file, extraVars);
    } catch (err) {
      assert.ok(err instanceof InventoryError, String(err));
      return err.problems;
    }
    assert.fail(`${file} was planned`);
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-paths-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('has at least 25 hostile values', () => assert.ok(HOSTILE.length >= 25));

  for (const key of ['SCRIPTS_PATH', 'ranktable_save_path']) {
    for (const [value, rule] of HOSTILE) {
      it(`refuses ${key}: "${value.slice(0, 40)}"`, () => {
        const file = inventoryWith(key, value);
        const problems = problemsOf(file);
        const column = `    ${key}: `.length + 1;
        assert.ok(problems.length > 0);
        for (const p of problems) {
          assert.deepEqual(
            [p.file, p.line, p.column, p.path],
            [file, 4, column, `all.vars.${key}`],
            formatProblem(p),
          );
        }
        assert.match(problems.map((p) => p.message).join('\n'), rule);
      });
    }
    for (const value of FINE) {
      it(`accepts ${key}: ${value}`, () => {
        const plan = planFromFile(inventoryWith(key, value));
        assert.equal(plan.settings[key as 'SCRIPTS_PATH'], value);
      });
    }
  }

  it('holds LOG_PATH and CODE_PATH to the same rules', () => {
    for (const key of MANAGED) {
      for (const [value, rule] of [
        ['/srv/.', /path rule "normalised"/],
        ['/var/log', /path rule "system-folder"/],
        ['/data/models/m/logs', /path rule "model-folder"/],
        ['/tmp/a$b', /path rule "characters"/],
      ] as const) {
        const problems = problemsOf(inventoryWith(key, value));
        assert.equal(problems[0]!.path, `all.vars.${key}`);
        assert.match(problems[0]!.message, rule);
      }
    }
  });

  it('refuses a hostile path given with -e, at the -e key', () => {
    const problems = problemsOf(write(BASE), { SCRIPTS_PATH: '/srv/.' });
    assert.deepEqual(
      problems.map((p) => formatProblem(p)),
      [
        '-e SCRIPTS_PATH: path rule "normalised": "/srv/." is not normalised (it means "/srv"): write the folder itself, without "." or ".." segments, "//" or a trailing "/"',
      ],
    );
  });

  it('reports a default folder inside the model at MODEL_PATH', () => {
    const problems = problemsOf(write(BASE.replace('MODEL_PATH: /data/models/m', 'MODEL_PATH: /data')));
    assert.deepEqual(
      problems.map((p) => [p.path, p.message]),
      [
        [
          'all.vars.MODEL_PATH',
          'CODE_PATH (default /data/local_code_path): path rule "model-folder": "/data/local_code_path" is inside the model folder MODEL_PATH "/data", and omni-deploy creates this folder on every host and writes its own files into it: keep omni-deploy\'s folders and the model apart',
        ],
        [
          'all.vars.MODEL_PATH',
          'LOG_PATH (default /data/log_path): path rule "model-folder": "/data/log_path" is inside the model folder MODEL_PATH "/data", and omni-deploy creates this folder on every host and writes its own files into it: keep omni-deploy\'s folders and the model apart',
        ],
      ],
    );
  });

  it('holds MODEL_PATH and both sides of container_mounts to the host path rules', () => {
    const model = write(BASE.replace('MODEL_PATH: /data/models/m', 'MODEL_PATH: /data/models/m/../x'));
    assert.match(problemsOf(model)[0]!.message, /path rule "normalised"/);
    const mounts = problemsOf(
      write(
        BASE.replace(
          '  vars:\n',
          `  vars:\n    container_mounts: ['/tmp:/tmp', '/data/a b:/data', '/data:/x/../y']\n`,
        ),
      ),
    );
    assert.deepEqual(
      mounts.map((p) => [p.path, p.message.replace(/:.*/, '')]),
      [
        ['all.vars.container_mounts.1', 'host side'],
        ['all.vars.container_mounts.2', 'container side'],
      ],
    );
    assert.match(mounts[0]!.message, /path rule "characters"/);
    const devices = write(BASE.replace('  vars:\n', '  vars:\n    container_devices: [/dev/davinci$0]\n'));
    assert.match(problemsOf(devices)[0]!.message, /path rule "characters"/);
  });

  it('normalises executor paths, allowing ~/ and spaces, refusing control characters', () => {
    const file = write(
      BASE.replace(
        '  vars:\n',
        [
          '  vars:',
          "    LOG_PATH_IN_EXECUTOR: '{{ inventory_dir }}/../My Logs/./omni/'",
          "    LOCAL_CODE_PATH: '~/code'",
          "    known_hosts_file: '~/.ssh//known_hosts'",
          '',
        ].join('\n'),
      ),
    );
    const s = loadInventory(file).settings;
    assert.equal(s.LOG_PATH_IN_EXECUTOR, path.join(path.dirname(dir), 'My Logs', 'omni'));
    assert.equal(s.LOCAL_CODE_PATH, '~/code');
    assert.equal(s.known_hosts_file, '~/.ssh/known_hosts');
    assert.match(
      problemsOf(inventoryWith('known_hosts_file', '~/a\\tb'))[0]!.message,
      /path rule "characters": .* a tab/,
    );
    assert.match(
      problemsOf(inventoryWith('LOCAL_CODE_PATH', '~/../x'))[0]!.message,
      /path rule "normalised": .* climbs above its start/,
    );
    assert.match(
      problemsOf(inventoryWith('LOG_PATH_IN_EXECUTOR', 'logs'))[0]!.message,
      /path rule "absolute": .* "\/" or "~\/"/,
    );
  });
});
