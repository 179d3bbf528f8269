import { StringDecoder } from 'node:string_decoder';
import type { Client, ClientChannel } from 'ssh2';
import { killGroupCommand, killableCommandString, type RemoteCommand } from './command';
import { CommandFailedError, CommandTimeoutError, ConnectionError } from './errors';
import type { RemoteHost } from './host';
import { shellJoin } from '../shared/shellQuote';
import type { SshPool } from './pool';

export interface ExecOptions extends Omit<RemoteCommand, 'argv'> {
  stdin?: string | Buffer;
  /** The command is killed on the host (whole process group) when it runs longer. */
  timeoutMs?: number;
  /** Activity cancellation (`cancellationSignal()`): kills the command on the host, then rejects. */
  signal?: AbortSignal;
  /** Each complete output line as it arrives (activities heartbeat from here). */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Default true: a non-zero exit throws CommandFailedError. False returns the result instead. */
  check?: boolean;
  /** Between TERM and KILL when killing; default 5 s. */
  killGraceMs?: number;
  /** Keep stdout's bytes as they came too (`stdoutBytes`): for binary output such as a tar stream. */
  binaryStdout?: boolean;
}

export interface ExecResult {
  /** null when the command died of a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** stdout undecoded, with `binaryStdout`. */
  stdoutBytes?: Buffer;
}

// The PID line comes first, so this only bounds a wrapper that never started (e.g. no setsid).
const PGID_WAIT_MS = 5_000;

export async function exec(
  pool: SshPool,
  host: RemoteHost,
  argv: readonly string[],
  opts: ExecOptions = {},
): Promise<ExecResult> {
  const cmd: RemoteCommand = { argv, env: opts.env, cwd: opts.cwd, sudo: opts.sudo };
  const text = killableCommandString(cmd);
  opts.signal?.throwIfAborted();

  const lease = await pool.open(host, (client) => openExec(client, text, opts.onOutput), opts.signal);
  const { channel, run } = lease.value;
  try {
    if (opts.stdin !== undefined) channel.end(opts.stdin);
    else channel.end();

    const stop = await run.finishedOr(opts.signal, opts.timeoutMs);
    if (stop !== 'finished') {
      const killProblem = await killRemote(pool, host, run, opts);
      if (stop === 'timeout') throw new CommandTimeoutError(host, argv, opts.timeoutMs ?? 0, killProblem);
      // A cancelled activity must end with the cancellation itself; anything left running on the
      // host is what the cleanup phase is for.
      throw abortReason(opts.signal);
    }
    const result = run.result(opts.binaryStdout === true);
    if (!run.exited) {
      throw new ConnectionError(host, `the connection was lost while \`${shellJoin(argv)}\` was running`);
    }
    if (result.code !== 0 && opts.check !== false) {
      throw new CommandFailedError(host, argv, result.code, result.signal, result.stderr);
    }
    return result;
  } finally {
    channel.close();
    lease.release();
  }
}

/**
 * The listeners go on in ssh2's own callback, synchronously: a short command's output, exit status
 * and close can arrive in the same TCP read as the channel confirmation, and an `exit` event
 * emitted before anyone listens is gone (the command would look like a lost connection).
 */
function openExec(
  client: Client,
  command: string,
  onOutput: ExecOptions['onOutput'],
): Promise<{ channel: ClientChannel; run: RunningCommand }> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, channel) =>
      err ? reject(err) : resolve({ channel, run: new RunningCommand(channel, onOutput) }),
    );
  });
}

/** Output bookkeeping of one channel: the PID line, full buffers, line callbacks, exit status. */
class RunningCommand {
  exited = false;
  private code: number | null = null;
  private signal: string | null = null;
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];
  private pidLine = '';
  private pgid: number | undefined;
  private readonly pgidWaiters: ((pgid: number | undefined) => void)[] = [];
  private readonly closed: Promise<void>;
  private readonly lines = { stdout: new LineSplitter(), stderr: new LineSplitter() };

  constructor(
    channel: ClientChannel,
    private readonly onOutput?: ExecOptions['onOutput'],
  ) {
    channel.on('data', (chunk: Buffer) => this.onStdout(chunk));
    channel.stderr.on('data', (chunk: Buffer) => this.emit('stderr', chunk));
    channel.on('exit', (code: number | null, signal?: string) => {
      this.exited = true;
      this.code = code;
      this.signal = signal ?? null;
    });
    this.closed = new Promise((resolve) => channel.on('close', () => resolve()));
    void this.closed.then(() => this.resolvePgid());
  }

  async finishedOr(signal: AbortSignal | undefined, timeoutMs: number | undefined) {
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const stops: Promise<'finished' | 'timeout' | 'aborted'>[] = [
      this.closed.then(() => 'finished' as const),
    ];
    if (timeoutMs !== undefined) {
      stops.push(new Promise((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))));
    }
    if (signal) {
      stops.push(
        new Promise((resolve) => {
          onAbort = () => resolve('aborted');
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      );
    }
    try {
      return await Promise.race(stops);
    } finally {
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  /** The remote process group id, once the wrapper has printed it. */
  processGroup(): Promise<number | undefined> {
    if (this.pgid !== undefined) return Promise.resolve(this.pgid);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), PGID_WAIT_MS);
      this.pgidWaiters.push((pgid) => {
        clearTimeout(timer);
        resolve(pgid);
      });
    });
  }

  result(binaryStdout = false): ExecResult {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.lines[stream].flush();
      if (rest && this.onOutput) this.onOutput(rest, stream);
    }
    const stdout = Buffer.concat(this.stdout);
    return {
      code: this.code,
      signal: this.signal,
      stdout: stdout.toString('utf8'),
      stderr: Buffer.concat(this.stderr).toString('utf8'),
      ...(binaryStdout && { stdoutBytes: stdout }),
    };
  }

  private onStdout(chunk: Buffer): void {
    if (this.pgid === undefined) {
      const text = chunk.toString('latin1');
      const newline = text.indexOf('\n');
      if (newline < 0) {
        this.pidLine += text;
        return;
      }
      this.pidLine += text.slice(0, newline);
      this.resolvePgid(Number.parseInt(this.pidLine, 10));
      chunk = chunk.subarray(newline + 1);
      if (chunk.length === 0) return;
    }
    this.emit('stdout', chunk);
  }

  private resolvePgid(pgid?: number): void {
    if (pgid !== undefined && Number.isInteger(pgid) && pgid > 1) this.pgid = pgid;
    else if (this.pgid === undefined) this.pgid = -1;
    for (const w of this.pgidWaiters.splice(0)) w(this.pgid > 1 ? this.pgid : undefined);
  }

  private emit(stream: 'stdout' | 'stderr', chunk: Buffer): void {
    this[stream].push(chunk);
    if (!this.onOutput) return;
    for (const line of this.lines[stream].push(chunk)) this.onOutput(line, stream);
  }
}

class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private partial = '';

  push(chunk: Buffer): string[] {
    const parts = (this.partial + this.decoder.write(chunk)).split('\n');
    this.partial = parts.pop() ?? '';
    return parts;
  }

  flush(): string {
    const rest = this.partial + this.decoder.end();
    this.partial = '';
    return rest;
  }
}

/**
 * Kills the command's process group from a second channel on the same connection (reconnecting if
 * the first one is gone: the process may well outlive its connection). Closing the channel alone
 * would leave a quiet remote process running for good. Returns why it could not, if it could not.
 */
async function killRemote(pool: SshPool, host: RemoteHost, run: RunningCommand, opts: ExecOptions) {
  const pgid = await run.processGroup();
  if (pgid === undefined) return 'its process group id never arrived';
  const graceMs = opts.killGraceMs ?? 5_000;
  try {
    await pool.unlimited(host, async (client) => {
      const kill = await openExec(client, killGroupCommand(pgid, graceMs, opts.sudo), undefined);
      kill.channel.end();
      await kill.run.finishedOr(undefined, undefined);
    });
    return undefined;
  } catch (err) {
    return `killing process group ${pgid} failed (${(err as Error).message})`;
  }
}

function abortReason(signal: AbortSignal | undefined): unknown {
  return signal?.reason ?? new DOMException('The operation was aborted', 'AbortError');
}
