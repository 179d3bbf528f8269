export { commandString, killableCommandString, type RemoteCommand } from './command';
export {
  ContainerCli,
  type ContainerEngine,
  type ContainerExecOptions,
  type ContainerInfo,
  type Executor,
} from './containerCli';
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
  type HostAuth,
  type HostKeyPolicy,
  type RemoteHost,
  type SecretResolver,
} from './host';
export { SshPool, type SshPoolOptions } from './pool';
export { shellJoin, shellQuote } from './quote';
export { Remote } from './remote';
export type { RsyncOptions, RsyncResult } from './rsync';
