/**
 * The remote layer: everything the activities do on a target host goes through here.
 *
 *   const remote = new Remote({ secrets });                           // one per worker process
 *   await remote.exec(host, ['docker', 'ps'], { signal: cancellationSignal(), onOutput: () => heartbeat() });
 *   await remote.rsync(host, { direction: 'push', localDir, remoteDir });
 *   const docker = remote.containers(host, 'docker');
 *   await remote.closeAll();                                          // worker shutdown
 *
 * Failures are RemoteError subclasses: `type` is the ApplicationFailure type, `retryable` whether
 * the workflow's retry policy should try again.
 */
export { commandString, killableCommandString, type RemoteCommand } from './command';
export { HostContainers, type ContainerExecOptions, type ContainerInfo, type Executor } from './containerCli';
export {
  AuthenticationError,
  CommandFailedError,
  CommandTimeoutError,
  ConnectionError,
  HostKeyMismatchError,
  RemoteConfigError,
  RemoteError,
  RemoteFileError,
  TransferError,
  UnknownHostKeyError,
  describeHost,
} from './errors';
export type { ExecOptions, ExecResult } from './exec';
export {
  connectionKey,
  describePasswordRef,
  type HostAuth,
  type HostKeyPolicy,
  type PasswordRef,
  type RemoteHost,
  type SecretResolver,
} from './host';
export { SshPool, type SshPoolOptions } from './pool';
export { shellJoin, shellQuote } from '../shared/shellQuote';
export { Remote } from './remote';
export { sshConfigPath } from './sshConfigValue';
export type { RsyncOptions, RsyncResult } from './rsync';
