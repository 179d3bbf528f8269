/**
 * Error types that retrying cannot fix: configuration, authentication, host identity, missing
 * inputs, an engine or proxy that refused its configuration. Activities throw ApplicationFailures
 * with these types (already marked non-retryable); the workflow's retry policy lists them too, so
 * none is retried even when thrown some other way, and the operator hears about it at once with
 * host and cause. Retryable ones (ConnectionError, CommandTimeoutError, TransferError,
 * EngineStopFailed, RanktableWriteMismatch) are retried with backoff first.
 */
export const NON_RETRYABLE_ERROR_TYPES = [
  // remote layer (src/remote/errors.ts)
  'ConfigError',
  'AuthenticationError',
  'HostKeyMismatchError',
  'UnknownHostKeyError',
  'RemoteFileError',
  'CommandFailedError',
  // host steps (src/activities)
  'PreflightFailed',
  'ImageMissing',
  'InstallFailed',
  'RanktableError',
  // the coordinator's ranktable set changed under a copy: the workflow builds it again
  'RanktableSourceChanged',
  'PortBusy',
  'EngineLaunchFailed',
  'EngineDied',
  'EngineNotReady',
  'ProxyConfigInvalid',
  'ProxyStartFailed',
  'ProxyNotReady',
  'VerifyFailed',
  // ownership (src/activities/hostFiles.ts): a link inside a managed folder, a broken manifest
  'UnsafePath',
  'ManifestFailed',
] as const;
