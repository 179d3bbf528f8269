import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { commandString, killableCommandString, killGroupCommand } from '../../src/remote/command';
import { shellJoin, shellQuote, sshConfigPath } from '../../src/remote';

/** Deterministic generator, so a failing case can be reproduced from the seed. */
function* randomStrings(seed: number, count: number): Generator<string> {
  const alphabet = [
    ...`abcXYZ019 \t\n'"\`$(){}[]<>|&;*?!~#%^=\\/.,:-_+@`,
    'é',
    'ü',
    '中',
    '文',
    '🚀',
    '\u00a0',
    '\u202e',
    '\x01',
    '\x7f',
  ];
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    return state;
  };
  for (let i = 0; i < count; i++) {
    const len = next() % 24;
    let s = '';
    for (let j = 0; j < len; j++) s += alphabet[next() % alphabet.length];
    yield s;
  }
}

const tricky = [
  '',
  ' ',
  "'",
  "''",
  "it's",
  '"',
  '$(touch /tmp/omni-deploy-pwned)',
  '`id`',
  '$HOME',
  '${PATH}',
  'a\nb',
  '\n',
  '-n',
  '--flag=value',
  'A=b',
  '*',
  '~',
  '#comment',
  'semi;colon',
  'pipe|x',
  'back\\slash',
  '中文 🚀',
  "'\\''",
];

/** Runs `printf '%s\0' <quoted…>` in a real shell and splits its output back into argv. */
function throughShell(shell: string, argv: string[]): string[] {
  const out = execFileSync(shell, ['-c', `printf '%s\\0' ${shellJoin(argv)}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shellQuote / shellJoin', () => {
  it('leaves plain words readable and quotes everything else', () => {
    assert.equal(shellQuote('docker'), 'docker');
    assert.equal(shellQuote('/usr/bin/x-y_1.2:3'), '/usr/bin/x-y_1.2:3');
    assert.equal(shellQuote(''), "''");
    assert.equal(shellQuote("it's"), "'it'\\''s'");
    assert.equal(shellQuote('A=b'), "'A=b'");
    assert.equal(shellJoin(['echo', 'a b']), "echo 'a b'");
  });

  for (const shell of ['bash', 'sh']) {
    it(`round-trips tricky strings through ${shell} unchanged`, () => {
      assert.deepEqual(throughShell(shell, tricky), tricky);
    });

    it(`round-trips 400 generated strings through ${shell} unchanged`, () => {
      const argv = [...randomStrings(shell.length * 7919, 400)];
      assert.deepEqual(throughShell(shell, argv), argv);
    });
  }

  it('round-trips one argument through `bash -c \'printf %s "$1"\' _ <quoted>`', () => {
    for (const s of [...tricky, ...randomStrings(42, 100)]) {
      const script = `bash -c 'printf %s "$1"' _ ${shellQuote(s)}`;
      assert.equal(execFileSync('bash', ['-c', script], { encoding: 'utf8' }), s);
    }
  });
});

describe('remote command strings', () => {
  it('builds cd + env + argv, everything quoted', () => {
    assert.equal(
      commandString({ argv: ['echo', "it's"], cwd: '/srv/my dir', env: { A: 'x y', B: '$(id)' } }),
      "cd '/srv/my dir' && exec env 'A=x y' 'B=$(id)' echo 'it'\\''s'",
    );
    assert.equal(commandString({ argv: ['true'] }), 'exec true');
    assert.throws(() => commandString({ argv: ['true'], env: { 'A;rm': 'x' } }), RangeError);
    assert.throws(() => commandString({ argv: [] }), RangeError);
  });

  it('the killable wrapper prints the process group first, then runs the command with env and cwd', () => {
    const argv = ['sh', '-c', 'printf "%s|%s|%s" "$PWD" "$V" "$1"', 'arg0', "a'b $(x) `y`"];
    const text = killableCommandString({ argv, env: { V: 'v a l' }, cwd: '/tmp' });
    const out = execFileSync('bash', ['-c', text], { encoding: 'utf8' });
    const [pid, rest] = out.split('\n');
    assert.match(pid ?? '', /^\d+$/);
    assert.equal(rest, "/tmp|v a l|a'b $(x) `y`");
  });

  it('keeps the exit code through setsid -w', () => {
    const text = killableCommandString({ argv: ['sh', '-c', 'exit 7'] });
    assert.throws(
      () => execFileSync('bash', ['-c', text], { stdio: 'ignore' }),
      (e: { status?: number }) => {
        return e.status === 7;
      },
    );
  });

  it('the kill command targets the group and succeeds when nothing is left', () => {
    const text = killGroupCommand(999_999_999, 200);
    assert.match(text, /kill-group 999999999$/);
    assert.equal(execFileSync('bash', ['-c', `${text}; echo rc=$?`], { encoding: 'utf8' }), 'rc=0\n');
  });
});

describe('sshConfigPath', () => {
  it('leaves plain paths readable', () => {
    assert.equal(sshConfigPath('/work/x/.state/sim/known_hosts'), '/work/x/.state/sim/known_hosts');
  });

  it('quotes whitespace, escapes quotes and backslashes, doubles % (ssh expands %-tokens in file names)', () => {
    assert.equal(sshConfigPath('/srv/my tools/kh'), '"/srv/my tools/kh"');
    assert.equal(sshConfigPath('/a"b\\c'), '"/a\\"b\\\\c"');
    assert.equal(sshConfigPath('/100%/kh'), '/100%%/kh');
  });
});
