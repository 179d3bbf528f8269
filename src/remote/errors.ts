import type { RemoteHost } from './host';
import { shellJoin } from '../shared/shellQuote';

/**
 * Every failure of the remote layer is one of these. `type` is what an activity passes as the
 * ApplicationFailure type (the workflow's retry policy lists the non-retryable ones), `retryable`
 * says whether trying again can help, and the message names the host and what to do.
 */
export abstract class RemoteError extends Error {
  abstract readonly type: string;
  abstract readonly retryable: boolean;
  readonly hostName: string;
  readonly address: string;

  constructor(host: RemoteHost, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.hostName = host.name;
    this.address = host.address;
  }
}

/** "p0 (10.231.0.11:2222)" — port only when it is not 22, as an operator would type it. */
export function describeHost(host: RemoteHost): string {
  const port = host.port;
  return `${host.name} (${host.address}${port === 22 ? '' : `:${port}`})`;
}

export class HostKeyMismatchError extends RemoteError {
  readonly type = 'HostKeyMismatchError';
  readonly retryable = false;
  constructor(host: RemoteHost, knownHostsPath: string, presented: string, detail = 'does not match') {
    super(
      host,
      `host key of ${describeHost(host)} ${detail} ${knownHostsPath} (it presented ${presented}); ` +
        `someone may be intercepting the connection, or the host was reinstalled — if you are sure it was ` +
        `reinstalled, remove its line with \`ssh-keygen -R ${knownHostsName(host)} -f ${knownHostsPath}\` and ` +
        `add the new key (ssh-keyscan, or run once with host key policy accept-new)`,
    );
  }
}

export class UnknownHostKeyError extends RemoteError {
  readonly type = 'UnknownHostKeyError';
  readonly retryable = false;
  constructor(host: RemoteHost, knownHostsPath: string, presented: string) {
    super(
      host,
      `host ${describeHost(host)} is not in ${knownHostsPath} (it presented ${presented}); add its key ` +
        `(\`ssh-keyscan -p ${host.port} ${host.address} >> ${knownHostsPath}\` after checking the ` +
        `fingerprint) or allow trust-on-first-use with host key policy accept-new`,
    );
  }
}

export class AuthenticationError extends RemoteError {
  readonly type = 'AuthenticationError';
  readonly retryable = false;
  constructor(host: RemoteHost, how: string, options?: { cause?: unknown }) {
    super(
      host,
      `authentication as ${host.user} on ${describeHost(host)} failed (${how}); check the user, the key ` +
        `or password configured for this host, and the host's authorized_keys`,
      options,
    );
  }
}

/** Network-level failure: refused, unreachable, timed out, reset, dropped. Retrying may help. */
export class ConnectionError extends RemoteError {
  readonly type = 'ConnectionError';
  readonly retryable = true;
  readonly code: string | undefined;
  constructor(host: RemoteHost, what: string, code?: string, options?: { cause?: unknown }) {
    super(
      host,
      `cannot reach ${describeHost(host)} over SSH: ${what}${code ? ` (${code})` : ''}; check that the ` +
        `host is up, sshd listens on port ${host.port} and no firewall is in the way`,
      options,
    );
    this.code = code;
  }
}

/** Our side of the configuration is wrong (missing key file, unusable option). */
export class RemoteConfigError extends RemoteError {
  readonly type = 'ConfigError';
  readonly retryable = false;
}

const STDERR_TAIL_CHARS = 2000;

/** The command ran and exited non-zero. Whether to retry is the caller's call. */
export class CommandFailedError extends RemoteError {
  readonly type = 'CommandFailedError';
  readonly retryable = false;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly argv: readonly string[];
  readonly stderrTail: string;
  constructor(
    host: RemoteHost,
    argv: readonly string[],
    exitCode: number | null,
    signal: string | null,
    stderr: string,
  ) {
    const tail = stderr.length > STDERR_TAIL_CHARS ? `…${stderr.slice(-STDERR_TAIL_CHARS)}` : stderr;
    const how = exitCode !== null ? `exited with code ${exitCode}` : `was killed by signal ${signal ?? '?'}`;
    // A `docker run` line runs to kilobytes; the operator needs which command, not every flag.
    const full = shellJoin(argv);
    const shown = full.length > 160 ? `${shellJoin(argv.slice(0, 3))} …` : full;
    super(host, `on ${describeHost(host)}: \`${shown}\` ${how}${tail.trim() ? `: ${tail.trim()}` : ''}`);
    this.exitCode = exitCode;
    this.signal = signal;
    this.argv = argv;
    this.stderrTail = tail;
  }
}

/** The command outlived its time budget; it was killed on the host (or the message says why not). */
export class CommandTimeoutError extends RemoteError {
  readonly type = 'CommandTimeoutError';
  readonly retryable = true;
  readonly argv: readonly string[];
  constructor(host: RemoteHost, argv: readonly string[], timeoutMs: number, killProblem?: string) {
    const fate = killProblem ? `could not be killed (${killProblem}) and may still run there` : 'was killed';
    super(
      host,
      `on ${describeHost(host)}: \`${shellJoin(argv)}\` did not finish within ${timeoutMs} ms and ${fate}; ` +
        `raise the timeout if the step is legitimately slow, otherwise look at the host`,
    );
    this.argv = argv;
  }
}

/** A file operation the host refused (missing directory, permissions, full disk). */
export class RemoteFileError extends RemoteError {
  readonly type = 'RemoteFileError';
  readonly retryable = false;
}

/** rsync itself failed for a reason other than SSH (see the stderr tail). */
export class TransferError extends RemoteError {
  readonly type = 'TransferError';
  readonly retryable = true;
}

function knownHostsName(host: RemoteHost): string {
  const port = host.port;
  return port === 22 ? host.address : `'[${host.address}]:${port}'`;
}
