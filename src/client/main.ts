import { Command, CommanderError } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../shared/paths';
import { registerBenchCommand } from './commands/bench';
import { registerClusterCommands } from './commands/cluster';
import { registerDemoCommand } from './commands/demo';
import { registerLogsCommands } from './commands/logs';
import { registerPlanCommand } from './commands/plan';
import { registerServerCommands } from './commands/server';
import { registerSimCommands } from './commands/sim';
import { registerWorkerCommand } from './commands/worker';

export interface ProgramOutput {
  writeOut?: (s: string) => void;
  writeErr?: (s: string) => void;
}

/**
 * The whole CLI as commander sees it: names, descriptions, options and their parsers. Nothing
 * else is loaded here — each command's implementation (src/client/actions) is required when that
 * command runs, so `deploy --help` and `deploy plan` answer without the Temporal SDK, and
 * `deploy status` without the worker, the activities or SSH (test/unit/cliModules.test.ts).
 */
export function buildProgram(output: ProgramOutput = {}): Command {
  const program = new Command('deploy')
    // Before any subcommand is added, so they all inherit it: errors reach main() instead of
    // commander calling process.exit itself.
    .exitOverride()
    .configureOutput(output)
    .description(
      'omni-deploy: bring up and run PD-disaggregated LLM serving clusters with Temporal workflows',
    )
    .version(packageVersion())
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  registerDemoCommand(program);
  registerClusterCommands(program);
  registerPlanCommand(program);
  registerBenchCommand(program);
  registerLogsCommands(program);
  registerServerCommands(program);
  registerSimCommands(program);
  registerWorkerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander but successes for the user.
      return err.exitCode;
    }
    console.error(`error: ${describeError(err)}`);
    return 1;
  }
}

/**
 * Exit once everything written to stdout and stderr has reached the reader. Writes to a pipe are
 * asynchronous: `process.exit` right after a large `--json` cut it at the pipe's 64 KiB buffer,
 * so `deploy plan --json | jq` saw invalid JSON. A write of nothing calls back after every write
 * before it has been flushed (or failed: a reader that went away, as with `| head`).
 */
export async function exitWhenFlushed(code: number): Promise<never> {
  await Promise.all(
    [process.stdout, process.stderr].map(
      (stream) =>
        new Promise<void>((resolve) => {
          if (stream.destroyed || !stream.writable) return resolve();
          stream.once('error', () => resolve());
          stream.write('', () => resolve());
        }),
    ),
  );
  process.exit(code);
}

if (require.main === module) {
  void main(process.argv).then(exitWhenFlushed);
}

/** Read at run time: the same file from src/ and from the build in dist/. */
function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** Temporal wraps the useful part (a validator's refusal, an activity's message) in `cause`. */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ');
}
