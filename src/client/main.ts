import { Command, CommanderError } from 'commander';
import { version } from '../../package.json';
import { registerDemoCommand } from './commands/demo';
import { registerServerCommands } from './commands/server';
import { registerWorkerCommand } from './commands/worker';

export function buildProgram(): Command {
  const program = new Command('deploy')
    .description(
      'omni-deploy: bring up and run PD-disaggregated LLM serving clusters with Temporal workflows',
    )
    .version(version)
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true);
  // Every subcommand inherits these, so a typo'd flag anywhere is an error, not silently ignored.
  program.configureHelp({ sortSubcommands: false });
  registerDemoCommand(program);
  registerServerCommands(program);
  registerWorkerCommand(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version are "errors" to commander but successes for the user.
      return err.exitCode;
    }
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => process.exit(code));
}
