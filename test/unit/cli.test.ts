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
});
