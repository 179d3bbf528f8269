import { Command, CommanderError } from 'commander';
import { version } from '../../package.json';
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

export function buildProgram(output: ProgramOutput = {}): Command {
  const program = new Command('deploy')
    // Before any subcommand is added, so they all inherit it: errors reach main() instead of
    // commander calling process.exit itself.
    .exitOverride()
    .configureOutput(output)
    .description(
      'omni-deploy: bring up and run PD-disaggregated LLM serving clusters with Temporal workflows',
    )
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  registerDemoCommand(program);
  registerClusterCommands(program);
  registerPlanCommand(program);
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

/** Temporal wraps the useful part (a validator's refusal, an activity's message) in `cause`. */
function describeError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e && parts.length < 4; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? e.message : String(e));
  }
  return parts.join(': ');
}
