import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXTRA_VARS_FILE, InventoryError, loadInventory } from '../../src/inventory';
import { planFromFile } from '../../src/client/planFile';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'inventories');
const BASE = fs.readFileSync(path.join(FIXTURES, 'base.yml'), 'utf8');
const INVALID = path.join(FIXTURES, 'invalid');

/** Every inventory is accepted or refused within this, on a 2-core machine. */
const BUDGET_MS = 2000;

/** base.yml with `lines` added at the top of all.vars. */
const withVarLines = (lines: readonly string[]) =>
  BASE.replace('  vars:\n', () => `  vars:\n${lines.map((l) => `    ${l}\n`).join('')}`);
const withVars = (...lines: string[]) => withVarLines(lines);

/** base.yml whose p0 takes its node_port from `template` (so the template is rendered), plus `vars`. */
const p0NodePort = (template: string, ...vars: string[]) =>
  withVars(...vars).replace(
    "node_port: '{{ global_port_base + port_offset.P + kv_rank }}'",
    `node_port: ${JSON.stringify(template)}`,
  );

/** base.yml with p0's device list replaced. */
const p0Devices = (devices: string) =>
  BASE.replace("ascend_rt_visible_devices: '0,1,2,3'", `ascend_rt_visible_devices: '${devices}'`);

/** base.yml with `key: value` in all.vars replaced or added. */
const setting = (key: string, value: string) => withVars(`${key}: ${value}`);

/** Lines of `make(i)` added to all.vars until the file has about `bytes`. */
function fillVars(bytes: number, make: (i: number) => string, base = BASE): string {
  const lines: string[] = [];
  let size = base.length;
  for (let i = 0; size < bytes; i++) {
    const line = `    ${make(i)}\n`;
    size += line.length;
    lines.push(line);
  }
  return base.replace('  vars:\n', () => `  vars:\n${lines.join('')}`);
}

/** base.yml plus `count` more decode hosts (tiny, sharing d0's master), and p0 broken. */
function manyHosts(count: number): string {
  const hosts = Array.from(
    { length: count },
    (_, i) =>
      `        x${i}: {ansible_host: 10.1.${i >> 8}.${i & 255}, node_rank: ${i + 2}, node_port: 8100, api_port: ${10000 + i}, host_ip: 10.0.0.3, ascend_rt_visible_devices: '0'}\n`,
  ).join('');
  return BASE.replace('    C:\n', `${hosts}    C:\n`).replace('kv_rank: 0\n', 'kv_rank: -1\n');
}

const laughs = () => {
  const lines = ['_a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghij';
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    lines.push(`_${names[i]}: &${names[i]} [${Array(9).fill(prev).join(',')}]`);
  }
  return withVars(...lines);
};

interface Case {
  name: string;
  text?: () => string | Buffer;
  /** An existing file instead of generated text. */
  file?: string;
  /** What the refusal must say (matched against all its messages). */
  expect: RegExp;
}

const chain = (n: number, make: (i: number) => string) => Array.from({ length: n }, (_, i) => make(i));

const CASES: Case[] = [
  // Size and encoding.
  {
    name: '3 MB of 120 000 helper variables',
    text: () => withVarLines(chain(120_000, (i) => `_h${i}: helper-value-${i}`)),
    expect: /limit "file-size": the file is 3\.\d MiB; an inventory may be at most 256 KiB/,
  },
  {
    name: '250 KiB of helper variables and one bad field',
    text: () => fillVars(250 * 1024, (i) => `_h${i}: x`).replace('kv_rank: 0\n', 'kv_rank: -1\n'),
    expect: /kv_rank: must be an integer ≥ 0, got -1/,
  },
  {
    name: '250 KiB of unknown settings',
    text: () => fillVars(250 * 1024, (i) => `h${i}: x`),
    expect: /unknown setting "h0"[\s\S]*limit "problems-shown": \d+ more problems/,
  },
  {
    name: '250 KiB of anchors and aliases',
    text: () =>
      fillVars(250 * 1024, (i) => `_a${i}: &a${i} {q: 1}\n    _b${i}: *a${i}`).replace(
        'kv_rank: 0\n',
        'kv_rank: x\n',
      ),
    expect: /kv_rank: must be an integer/,
  },
  {
    name: '1 700 hosts',
    text: () => manyHosts(1700),
    expect: /kv_rank: must be an integer ≥ 0, got -1/,
  },
  { name: 'endless input (/dev/zero)', file: '/dev/zero', expect: /limit "file-size"/ },
  { name: 'NUL byte', text: () => BASE.replace('root', 'ro\0ot'), expect: /a NUL byte in the file/ },
  { name: 'control byte', text: () => BASE.replace('root', 'ro\x01ot'), expect: /U\+0001 in the file/ },
  { name: 'DEL byte', text: () => BASE.replace('root', 'ro\x7fot'), expect: /U\+007F in the file/ },
  { name: 'escaped NUL in a value', text: () => setting('_x', '"a\\0b"'), expect: /control character/ },
  {
    name: 'escaped control character in a setting',
    text: () => setting('served_model_name', '"model\\x07"'),
    expect: /control character/,
  },
  {
    name: 'invalid UTF-8',
    text: () =>
      Buffer.concat([
        Buffer.from(BASE.slice(0, 200)),
        Buffer.from([0xff, 0xfe]),
        Buffer.from(BASE.slice(200)),
      ]),
    expect: /not UTF-8 text \(byte 0xff\)/,
  },
  {
    name: 'UTF-16 file',
    text: () => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(BASE, 'utf16le')]),
    expect: /not UTF-8 text/,
  },
  {
    name: 'overlong UTF-8 encoding',
    text: () => Buffer.from([0x61, 0x3a, 0x20, 0xc0, 0xaf, 0x0a]),
    expect: /not UTF-8/,
  },

  // YAML shapes.
  { name: 'empty file', text: () => '', expect: /an inventory is a map with "all" at the top/ },
  { name: 'only comments', text: () => '# nothing\n', expect: /an inventory is a map with "all" at the top/ },
  { name: 'a YAML list', text: () => '- all\n- P\n', expect: /an inventory is a map with "all" at the top/ },
  { name: 'a YAML scalar', text: () => 'hello\n', expect: /an inventory is a map with "all" at the top/ },
  {
    name: 'two documents',
    text: () => `${BASE}---\n${BASE}`,
    expect: /YAML syntax: Source contains multiple documents/,
  },
  {
    name: 'tab indentation',
    text: () => BASE.replace('    ansible_user', '\tansible_user'),
    expect: /YAML syntax/,
  },
  {
    name: 'duplicate setting',
    text: () => withVars('MODEL_PATH: /data/models/x'),
    expect: /duplicate key "MODEL_PATH" \(first written at line 4\)/,
  },
  {
    name: 'duplicate host',
    text: () => BASE.replace('        p1:\n', '        p0:\n'),
    expect: /duplicate key "p0"/,
  },
  {
    name: '!!python/object tag',
    text: () => setting('_x', '!!python/object:os.system ls'),
    expect: /the tag !!python\/object:os\.system is not supported/,
  },
  {
    name: '!!binary tag',
    text: () => setting('_x', '!!binary aGVsbG8='),
    expect: /the tag !!binary is not supported/,
  },
  { name: 'custom tag', text: () => setting('_x', '!shell ls'), expect: /the tag !shell is not supported/ },
  {
    name: 'YAML 1.1 timestamp',
    text: () => `%YAML 1.1\n---\n${setting('_x', '!!timestamp 2001-12-14')}`,
    expect: /timestamp is not supported/,
  },
  { name: 'billion laughs', text: laughs, expect: /limit "alias-expansion"/ },
  {
    name: 'alias inside its own anchor',
    text: () => setting('_x', '&a [*a]'),
    expect: /the alias \*a is inside its own anchor/,
  },
  {
    name: 'alias without anchor',
    text: () => setting('_x', '*nope'),
    expect: /the alias \*nope names no anchor/,
  },
  {
    name: 'merge of a scalar',
    text: () => withVars('_m:', '  <<: 5', '  x: 1'),
    expect: /a merge \(<<\) takes a map/,
  },
  {
    name: 'merge of a list alias',
    text: () => withVars('_l: &l [1, 2]', '_m:', '  <<: *l'),
    expect: /a merge \(<<\) takes a map/,
  },
  {
    name: 'deep flow nesting (100 000)',
    text: () => setting('_x', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
    expect: /limit "nesting-depth": maps and lists nest more than 32 deep/,
  },
  {
    name: 'flow nesting 40 deep',
    text: () => setting('_x', `${'{a: '.repeat(40)}1${'}'.repeat(40)}`),
    expect: /limit "nesting-depth"/,
  },
  {
    name: 'block nesting 40 deep',
    text: () => withVars('_x:', ...chain(40, (i) => `${'  '.repeat(i + 1)}k:`), `${'  '.repeat(41)}v: 1`),
    expect: /limit "nesting-depth"/,
  },
  {
    name: 'block nesting 600 deep',
    text: () => withVars('_x:', ...chain(600, (i) => `${' '.repeat(i + 1)}k:`)),
    expect: /limit "nesting-depth"/,
  },
  {
    name: 'compact sequences 100 000 deep',
    text: () => withVars('_x:', `  ${'- '.repeat(100_000)}x`),
    expect: /limit "nesting-depth"/,
  },
  {
    name: 'a 200 000-character key',
    text: () => setting('K'.repeat(200_000), '1'),
    expect: /YAML syntax: The : indicator must be at most 1024 chars/,
  },
  {
    name: '200 keys of 1 000 characters',
    text: () => withVarLines(chain(200, (i) => `${'K'.repeat(1000)}${i}: 1`)),
    expect: /unknown setting "K{1000}0"/,
  },

  // Templates.
  {
    name: 'range(1000000000)',
    text: () => p0NodePort('{{ _r }}', '_r: "{{ range(1000000000) | length }}"'),
    expect: /limit "range": range\(\) would create 1000000000 elements/,
  },
  {
    name: 'range budget shared by all templates',
    text: () =>
      p0NodePort('{{ _a + _b }}', '_a: "{{ range(60000) | length }}"', '_b: "{{ range(60000) | length }}"'),
    expect: /limit "range"/,
  },
  {
    name: 'range with a fractional step',
    text: () => p0NodePort('{{ range(0, 1, 0.0000001) | length }}'),
    expect: /limit "range"/,
  },
  {
    name: 'nested loops over range()',
    text: () =>
      p0NodePort('{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}8000'),
    expect: /limit "range"/,
  },
  {
    name: 'nested loops over a list',
    text: () =>
      p0NodePort(
        '{% for a in _l %}{% for b in _l %}{% for c in _l %}{% endfor %}{% endfor %}{% endfor %}8000',
        `_l: [${chain(200, String).join(', ')}]`,
      ),
    expect: /limit "template-steps"/,
  },
  {
    name: 'exponential macro recursion',
    text: () =>
      p0NodePort(
        '{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}8000',
      ),
    expect: /macros \(\{% macro %\}\) are not supported/,
  },
  {
    name: 'strings doubling through variables',
    text: () =>
      p0NodePort(
        '{{ _a40 | length }}',
        `_a0: ${'x'.repeat(1000)}`,
        ...chain(40, (i) => `_a${i + 1}: "{{ _a${i} ~ _a${i} }}"`),
      ),
    expect: /limit "value-size"/,
  },
  {
    name: 'lists doubling through variables',
    text: () =>
      p0NodePort(
        '{{ _l60 | length }}',
        '_l0: [1]',
        ...chain(60, (i) => `_l${i + 1}: "{{ [_l${i}, _l${i}] }}"`),
      ),
    expect: /limit "value-size"/,
  },
  {
    name: 'lists doubling inside one template',
    text: () => p0NodePort(`{% set a = [1] %}${'{% set a = [a, a] %}'.repeat(100)}{{ a | length }}`),
    expect: /limit "value-size"/,
  },
  {
    name: 'a loop appending to its output',
    text: () => p0NodePort('{% for i in range(100000) %}{{ _k }}{% endfor %}', `_k: ${'k'.repeat(10_000)}`),
    expect: /limit "(value-size|template-steps)"/,
  },
  {
    name: 'String.repeat',
    text: () => p0NodePort("{{ 'a'.repeat(1000000000) }}"),
    expect: /calling "\.repeat\(\)" is not supported/,
  },
  {
    name: 'constructor escape to JavaScript',
    text: () => p0NodePort("{{ ''.constructor.constructor('return process')() }}"),
    expect: /"constructor" is not available in inventory templates/,
  },
  {
    name: 'center(1000000000)',
    text: () => p0NodePort("{{ 'a' | center(1000000000) }}"),
    expect: /the "center" filter would produce/,
  },
  {
    name: 'indent(1000000000)',
    text: () => p0NodePort("{{ 'a\\nb' | indent(1000000000) }}"),
    expect: /the "indent" filter would produce/,
  },
  {
    name: "replace('', big)",
    text: () => p0NodePort("{{ _k | replace('', _k) }}", `_k: ${'k'.repeat(10_000)}`),
    expect: /the "replace" filter would produce/,
  },
  {
    name: 'join with a big separator',
    text: () => p0NodePort('{{ range(5000) | join(_k) }}', `_k: ${'k'.repeat(10_000)}`),
    expect: /the "join" filter would produce/,
  },
  {
    name: 'batch(1000000000, fill)',
    text: () => p0NodePort("{{ [1] | batch(1000000000, 'x') }}"),
    expect: /the "batch" filter would produce/,
  },
  {
    name: 'slice(1000000000)',
    text: () => p0NodePort('{{ [1] | slice(1000000000) }}'),
    expect: /the "slice" filter would produce/,
  },
  {
    name: 'hostvars dumped',
    text: () => p0NodePort("{{ hostvars['p1'] | dump | length }}", `_k: ${'k'.repeat(70_000)}`),
    expect: /limit "value-size"/,
  },
  {
    name: 'a 5000-character template',
    text: () => p0NodePort(`{{ 8000${' + 0'.repeat(1300)} }}`),
    expect: /limit "template-size"/,
  },
  {
    name: 'brackets nested 100 deep',
    text: () => p0NodePort(`{{ ${'('.repeat(100)}8000${')'.repeat(100)} }}`),
    expect: /limit "template-nesting"/,
  },
  {
    name: 'blocks nested 30 deep',
    text: () => p0NodePort(`${'{% if true %}'.repeat(30)}8000${'{% endif %}'.repeat(30)}`),
    expect: /limit "template-nesting"/,
  },
  {
    name: 'regular expression',
    text: () => p0NodePort("{{ 'aaaa' | replace(r/(a+)+$/, 'b') }}"),
    expect: /regular expressions/,
  },
  {
    name: 'variables 100 deep',
    text: () => p0NodePort('{{ _v100 }}', '_v0: 8000', ...chain(100, (i) => `_v${i + 1}: "{{ _v${i} }}"`)),
    expect: /limit "variable-depth"/,
  },
  {
    name: 'a loop through hostvars',
    text: () =>
      p0NodePort("{{ hostvars['p1'].node_port }}").replace(
        "node_port: '{{ global_port_base + port_offset.P + kv_rank }}'",
        `node_port: "{{ hostvars['p0'].node_port }}"`,
      ),
    expect: /template loop: "node_port" depends on itself/,
  },

  // Limits on fields.
  {
    name: '2000 devices on one host',
    text: () => p0Devices(chain(2000, String).join(',')),
    expect: /limit "devices-per-host": 2000 devices listed; an Ascend host has at most 64/,
  },
  {
    name: '65 devices on one host',
    text: () => p0Devices(chain(65, String).join(',')),
    expect: /limit "devices-per-host": 65 devices/,
  },
  { name: 'device 64', text: () => p0Devices('0,64'), expect: /no Ascend host has device 64/ },
  {
    name: 'a 5000-character cluster name',
    text: () => setting('cluster_name', 'c'.repeat(5000)),
    expect: /limit "name-length": "c{40}…" is 5000 characters long/,
  },
  {
    name: 'a 64-character host name',
    text: () => BASE.replace('        p1:\n', `        ${'p'.repeat(64)}:\n`),
    expect: /limit "name-length": host name "p{40}…" is 64 characters/,
  },
  {
    name: 'a 100-character container prefix',
    text: () => setting('DOCKER_NAME_P', 'n'.repeat(100)),
    expect: /limit "name-length"/,
  },
  {
    name: 'SCRIPTS_PATH /srv/.',
    text: () => setting('SCRIPTS_PATH', '/srv/.'),
    expect: /path rule "normalised"/,
  },
  {
    name: 'SCRIPTS_PATH with $',
    text: () => setting('SCRIPTS_PATH', '/tmp/a$b'),
    expect: /path rule "characters"/,
  },
  {
    name: 'a 200 000-character SCRIPTS_PATH',
    text: () => setting('SCRIPTS_PATH', `/tmp/${'s'.repeat(200_000)}`),
    expect: /path rule "length"/,
  },
];

/** The existing fixtures of test/fixtures/inventories/invalid (one defect each). */
const FIXTURE_CASES: Case[] = fs
  .readdirSync(INVALID)
  .sort()
  .map((f) => ({ name: `fixture ${f}`, file: path.join(INVALID, f), expect: /./ }));

/**
 * CPU time of a synchronous call, in ms. The budget is the work a load takes on this machine;
 * wall time on a shared 2-core machine (tests run two files at once) measures the neighbours too.
 */
function cpuMs(fn: () => void): number {
  const before = process.cpuUsage();
  fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1000;
}

describe('hostile inventories are refused fast, with a location', () => {
  let dir: string;
  const timings: [string, number][] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-hostile-'));
    // Compile and warm up the loader once, so no case pays for that.
    loadInventory(path.join(FIXTURES, 'base.yml'));
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    const slowest = timings.sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(`slowest: ${slowest.map(([n, ms]) => `${n} ${ms.toFixed(0)} ms`).join(', ')}`);
  });

  it('covers at least 50 hostile inventories besides the fixtures', () => {
    assert.ok(CASES.length >= 50, `${CASES.length} cases`);
  });

  for (const [i, c] of [...CASES, ...FIXTURE_CASES].entries()) {
    it(c.name, () => {
      const file = c.file ?? path.join(dir, `case-${i}.yml`);
      if (c.text) fs.writeFileSync(file, c.text());
      let error: unknown;
      const ms = cpuMs(() => {
        try {
          planFromFile(file);
        } catch (err) {
          error = err;
        }
      });
      timings.push([c.name, ms]);
      assert.ok(error instanceof InventoryError, `expected a refusal, got ${String(error)}`);
      for (const p of error.problems) {
        if (p.file === EXTRA_VARS_FILE) continue;
        assert.equal(p.file, file, `${p.message} names ${p.file}`);
        assert.ok(p.line >= 1 && p.column >= 1, `no location: ${p.line}:${p.column}: ${p.message}`);
      }
      assert.match(error.problems.map((p) => `${p.path}: ${p.message}`).join('\n'), c.expect);
      assert.ok(ms < BUDGET_MS, `took ${ms.toFixed(0)} ms of CPU`);
    });
  }
});

describe('large inventories that are fine load fast', () => {
  it('plans a 250 KiB inventory of helper variables', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-large-'));
    try {
      const file = path.join(dir, 'helpers.yml');
      fs.writeFileSync(
        file,
        fillVars(250 * 1024, (i) => `_h${i}: x`),
      );
      let hosts = 0;
      const ms = cpuMs(() => (hosts = planFromFile(file).hosts.length));
      assert.equal(hosts, 5);
      assert.ok(ms < BUDGET_MS, `took ${ms.toFixed(0)} ms of CPU`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
