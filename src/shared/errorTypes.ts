/**
 * Error types that retrying cannot fix: configuration, authentication, host identity, missing
 * inputs. Activities throw ApplicationFailures with these types; the workflow's retry policy
 * lists them as non-retryable, so the operator hears about them at once with host and cause.
 */
export const NON_RETRYABLE_ERROR_TYPES = [
  'ConfigError',
  'AuthenticationError',
  'HostKeyMismatchError',
  'UnknownHostKeyError',
  'PreflightFailed',
  'ImageMissing',
  'ModelMissing',
  'RanktableError',
  'EngineRefused',
  'PortBusy',
] as const;
