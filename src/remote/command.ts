import { shellJoin, shellQuote } from '../shared/shellQuote';

/** A command for a remote host, as argv plus how to run it. No shell syntax ever goes in here. */
export interface RemoteCommand {
  argv: readonly string[];
  env?: Readonly<Record<string, string>>;
  cwd?: string;
  /** Run as root through `sudo -n` (never prompts: a missing sudo rule fails at once). */
  sudo?: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The plain shell text for `cmd`: `cd DIR && exec env K=V argv…`, every piece quoted. This is what
 * runs inside the process group that {@link killableCommandString} sets up.
 */
export function commandString(cmd: RemoteCommand): string {
  if (cmd.argv.length === 0) throw new RangeError('a remote command needs at least one argv element');
  const env = Object.entries(cmd.env ?? {});
  for (const [name] of env) {
    if (!ENV_NAME.test(name))
      throw new RangeError(`invalid environment variable name ${JSON.stringify(name)}`);
  }
  const assignments = env.map(([k, v]) => shellQuote(`${k}=${v}`));
  const run =
    env.length > 0 ? ['exec', 'env', ...assignments, shellJoin(cmd.argv)] : ['exec', shellJoin(cmd.argv)];
  return `${cmd.cwd !== undefined ? `cd ${shellQuote(cmd.cwd)} && ` : ''}${run.join(' ')}`;
}

/**
 * The exact string sent over SSH. The command runs as the leader of a fresh session (`setsid`), whose
 * id it prints as the first stdout line, so that cancelling can kill its whole process group from a
 * second channel: closing an SSH channel does not stop a remote process that does not write.
 * `-w` keeps setsid waiting when it had to fork (sshd already made the login shell a session leader),
 * so the exit code is still the command's.
 */
export function killableCommandString(cmd: RemoteCommand): string {
  const inner = `echo $$; ${commandString(cmd)}`;
  return `${cmd.sudo ? 'sudo -n ' : ''}setsid -w sh -c ${shellQuote(inner)}`;
}

/**
 * TERM to the group, up to `graceMs` for it to go, then KILL. Exits 0 whether or not anything was
 * left to kill, so a command that finished by itself in the meantime is not an error.
 */
export function killGroupCommand(pgid: number, graceMs: number, sudo = false): string {
  const polls = Math.max(1, Math.ceil(graceMs / 100));
  const script =
    'kill -TERM -"$1" 2>/dev/null || exit 0; i=0; ' +
    `while [ $i -lt ${polls} ]; do kill -0 -"$1" 2>/dev/null || exit 0; sleep 0.1; i=$((i+1)); done; ` +
    'kill -KILL -"$1" 2>/dev/null; exit 0';
  return `${sudo ? 'sudo -n ' : ''}${shellJoin(['sh', '-c', script, 'kill-group', String(pgid)])}`;
}
