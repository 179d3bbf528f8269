import { CommandFailedError } from './errors';
import type { ExecOptions, ExecResult } from './exec';
import type { RemoteHost } from './host';
import type { ContainerCli } from '../shared/host';

/**
 * Runs one argv on the host and returns the result whatever the exit code (the pool's exec with
 * `check: false` in production; a recorder in unit tests).
 */
export type Executor = (argv: readonly string[], opts?: ExecOptions) => Promise<ExecResult>;

export interface ContainerInfo {
  id: string;
  running: boolean;
  labels: Record<string, string>;
  /** The image as given to `run` (name:tag), not its digest. */
  image: string;
}

export interface ContainerExecOptions {
  detach?: boolean;
  env?: Readonly<Record<string, string>>;
  user?: string;
  workdir?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  onOutput?: ExecOptions['onOutput'];
}

// docker: "No such container: x" / "No such object: x"; podman: "no such container", "no container with name".
const MISSING = /no such (container|object)|no container with (name|id)/i;
const MISSING_IMAGE = /no such image|image not known|failed to find image/i;

/**
 * The containers of one host, through its docker/podman command line. Both take the same argv for
 * everything here, so only the binary name differs. Every call is argv: the executor quotes it on
 * the way out.
 */
export class HostContainers {
  constructor(
    readonly cli: ContainerCli,
    readonly host: RemoteHost,
    private readonly execute: Executor,
    private readonly baseOptions: Pick<ExecOptions, 'sudo'> = {},
  ) {}

  /** undefined when there is no such container. */
  async inspect(name: string): Promise<ContainerInfo | undefined> {
    // Plain `inspect` prints a JSON array on both engines (podman 4 pretty-prints even
    // `--format '{{json .}}'`, so that form cannot be read line by line).
    const r = await this.invoke(['container', 'inspect', name], {}, MISSING);
    if (!r) return undefined;
    const parsed = JSON.parse(r.stdout) as unknown;
    const raw = (Array.isArray(parsed) ? parsed[0] : parsed) as {
      Id?: string;
      State?: { Running?: boolean };
      Config?: { Labels?: Record<string, string> | null; Image?: string };
      ImageName?: string;
    };
    return {
      id: raw.Id ?? '',
      running: raw.State?.Running === true,
      labels: raw.Config?.Labels ?? {},
      image: raw.Config?.Image ?? raw.ImageName ?? '',
    };
  }

  /** `run` with the arguments a plan generated (everything after `run`); returns the container id. */
  async run(
    runArgs: readonly string[],
    opts: Pick<ExecOptions, 'signal' | 'timeoutMs'> = {},
  ): Promise<string> {
    const r = await this.invoke(['run', ...runArgs], opts);
    return lastLine(r?.stdout ?? '');
  }

  async exec(name: string, argv: readonly string[], opts: ContainerExecOptions = {}): Promise<ExecResult> {
    const args = ['exec'];
    if (opts.detach) args.push('--detach');
    for (const [k, v] of Object.entries(opts.env ?? {})) args.push('--env', `${k}=${v}`);
    if (opts.user !== undefined) args.push('--user', opts.user);
    if (opts.workdir !== undefined) args.push('--workdir', opts.workdir);
    return this.execute([this.cli, ...args, name, ...argv], {
      ...this.baseOptions,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      onOutput: opts.onOutput,
      check: false,
    });
  }

  /** Starts an existing, stopped container (after a reboot it is `Created`/`Exited`). */
  async start(name: string, opts: Pick<ExecOptions, 'signal' | 'timeoutMs'> = {}): Promise<void> {
    await this.invoke(['start', name], opts);
  }

  /** false when there was no such container. */
  async stop(name: string, timeoutSec = 10): Promise<boolean> {
    return (await this.invoke(['stop', '-t', String(timeoutSec), name], {}, MISSING)) !== undefined;
  }

  /** Removes the container, running or not; false when there was none. */
  async remove(name: string): Promise<boolean> {
    return (await this.invoke(['rm', '--force', name], {}, MISSING)) !== undefined;
  }

  async imagePresent(image: string): Promise<boolean> {
    return (
      (await this.invoke(['image', 'inspect', '--format', '{{.Id}}', image], {}, MISSING_IMAGE)) !== undefined
    );
  }

  async pull(
    image: string,
    opts: Pick<ExecOptions, 'signal' | 'timeoutMs' | 'onOutput'> = {},
  ): Promise<void> {
    await this.invoke(['pull', image], opts);
  }

  /** `load -i ARCHIVE`: every image of a `docker save` archive on the host. */
  async load(archive: string, opts: Pick<ExecOptions, 'signal' | 'timeoutMs'> = {}): Promise<void> {
    await this.invoke(['load', '-i', archive], opts);
  }

  /** stdout and stderr of the container, as `logs` prints them. */
  async logs(
    name: string,
    opts: { tail?: number; since?: string } = {},
  ): Promise<{ stdout: string; stderr: string }> {
    const args = ['logs'];
    if (opts.tail !== undefined) args.push('--tail', String(opts.tail));
    if (opts.since !== undefined) args.push('--since', opts.since);
    const r = await this.invoke([...args, name]);
    return { stdout: r?.stdout ?? '', stderr: r?.stderr ?? '' };
  }

  /** `cp SRC DEST` where one side is `container:path`, as the CLI expects. */
  async cp(src: string, dest: string): Promise<void> {
    await this.invoke(['cp', src, dest]);
  }

  async version(): Promise<string> {
    const r = await this.invoke(['version', '--format', '{{.Client.Version}}']);
    return (r?.stdout ?? '').trim();
  }

  /** Runs `docker|podman args…`; a failure whose stderr matches `missing` yields undefined, others throw. */
  private async invoke(
    args: readonly string[],
    opts: ExecOptions = {},
    missing?: RegExp,
  ): Promise<ExecResult | undefined> {
    const argv = [this.cli, ...args];
    const r = await this.execute(argv, { ...this.baseOptions, ...opts, check: false });
    if (r.code === 0) return r;
    if (missing && missing.test(r.stderr)) return undefined;
    throw new CommandFailedError(this.host, argv, r.code, r.signal, r.stderr);
  }
}

function lastLine(text: string): string {
  return text.trim().split('\n').pop() ?? '';
}
