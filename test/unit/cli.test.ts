import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Command } from 'commander';
import { buildProgram } from '../../src/client/main';
import { runDeploy } from '../helpers/cli';

function allCommands(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...allCommands(c, [...prefix, c.name()])]);
}

describe('deploy CLI', () => {
  it('--help lists the commands', async () => {
    const r = await runDeploy(['--help']);
    assert.equal(r.code, 0);
    for (const name of ['demo', 'server', 'worker'])
      assert.match(r.stdout, new RegExp(`^\\s+${name}\\b`, 'm'));
  });

  it('an unknown command exits non-zero with a clear message', async () => {
    const r = await runDeploy(['depoly']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown command 'depoly'/);
  });

  it('a bad flag exits non-zero with a clear message', async () => {
    const r = await runDeploy(['server', 'start', '--no-such-flag']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /unknown option '--no-such-flag'/);
  });

  it('refuses numbers that are not whole numbers in range, naming the flag, before doing anything', async () => {
    const cases: [string[], RegExp][] = [
      [
        ['start', '-i', 'inventories/2P1D.yml', '--attempts', 'x'],
        /'--attempts <n>' argument 'x' is invalid\. expected a whole number ≥ 1/,
      ],
      [
        ['start', '-i', 'inventories/2P1D.yml', '--attempts', '0'],
        /'--attempts <n>' argument '0' is invalid/,
      ],
      [
        ['start', '-i', 'inventories/2P1D.yml', '--parallelism', 'x'],
        /'--parallelism <n>' argument 'x' is invalid/,
      ],
      [
        ['start', '-i', 'inventories/2P1D.yml', '--parallelism', '2.5'],
        /'--parallelism <n>' argument '2\.5' is invalid/,
      ],
      [
        ['start', '-i', 'inventories/2P1D.yml', '--parallelism', '-1'],
        /'--parallelism <n>' argument '-1' is invalid/,
      ],
      [['logs', 'fetch', '--attempts', '1e3'], /'--attempts <n>' argument '1e3' is invalid/],
      [
        ['server', 'start', '--port', '70000'],
        /'--port <port>' argument '70000' is invalid\. expected a whole number from 1 to 65535/,
      ],
      [['sim', 'up', '--hosts', '0'], /'--hosts <n>' argument '0' is invalid/],
      [
        ['sim', 'up', '--hosts', '2', '--devices', '65'],
        /'--devices <n>' argument '65' is invalid\. expected a whole number from 1 to 64/,
      ],
      [['sim', '--instance', '255', 'status'], /'--instance <n>' argument '255' is invalid/],
    ];
    for (const [args, message] of cases) {
      const r = await runDeploy(args);
      assert.equal(r.code, 1, `deploy ${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message, `deploy ${args.join(' ')}`);
      assert.equal(r.stdout, '', `deploy ${args.join(' ')} printed ${r.stdout}`);
    }
  });

  it('every command answers --help', async () => {
    const commands = allCommands(buildProgram());
    assert.ok(commands.length >= 5, `expected several commands, got ${commands.length}`);
    for (const path of commands) {
      let out = '';
      const program = buildProgram({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
      // In-process: commander signals help by throwing (exitOverride) with exit code 0.
      await assert.rejects(program.parseAsync(['node', 'deploy', ...path, '--help']), { exitCode: 0 });
      assert.match(
        out,
        new RegExp(`^Usage: deploy ${path.join(' ')}`, 'm'),
        `deploy ${path.join(' ')} --help`,
      );
    }
  });

  it('every command that takes --inventory takes -i too (deploy sim up -i FILE as deploy start -i FILE)', () => {
    const byPath = (cmd: Command, prefix: string[] = []): [string, Command][] =>
      cmd.commands.flatMap((c) => [
        [[...prefix, c.name()].join(' '), c] as [string, Command],
        ...byPath(c, [...prefix, c.name()]),
      ]);
    const taking = byPath(buildProgram()).filter(([, c]) => c.options.some((o) => o.long === '--inventory'));
    assert.ok(
      taking.some(([p]) => p === 'sim up'),
      'sim up takes an inventory',
    );
    for (const [p, c] of taking) {
      assert.equal(c.options.find((o) => o.long === '--inventory')!.short, '-i', `deploy ${p}`);
    }
  });
});
