/**
 * The parts of the Temporal client SDK the CLI uses, from one module. Client-side code imports
 * `@temporalio/client`, `@temporalio/common` and `@temporalio/proto` through here (types may come
 * straight from the packages; eslint.config.mjs enforces it), because the build replaces this
 * module with one minified bundle of the three packages and a V8 code cache made by running it
 * (scripts/build.js, scripts/cachedBundle.js). Loading the packages file by file was most of
 * `deploy status`'s time: about 370 ms to require them and build protobufjs's reflection of every
 * Temporal message, against about 120 ms from the cached bundle. Every client module must reach
 * the one copy: a second copy of the SDK would be a second set of error classes for `instanceof`.
 */
export {
  Client,
  Connection,
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
} from '@temporalio/client';
export { defaultPayloadConverter } from '@temporalio/common';
export { google, temporal } from '@temporalio/proto';
