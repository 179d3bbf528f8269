/**
 * Every patch ID the workflows branch on with `patched()`, one constant each. A workflow run keeps
 * the branch it took when it first reached the patch, so an ID stays here (and its old branch in
 * the code) until no open run can still need the old branch: then `patched(X)` becomes
 * `deprecatePatch(X)`, and once no open run can replay without it the call and the constant go
 * (docs/upgrades.md). test/unit/patches.test.ts checks that every `patched()` call in src uses a
 * constant from here and that every constant is used.
 */

/**
 * Host-step activities get the ID `<host>/<phase>/<n>`, which `deploy status` reads the pending
 * activity (attempt, last error) by. Added in b848f06 ("Honest operations…", 2026-12-01).
 * Deprecate once no cluster workflow started before b848f06 is open.
 */
export const ACTIVITY_IDS_NAME_HOST = 'activity-ids-name-host';

/**
 * Cancelled host steps are awaited until they have stopped on their host
 * (WAIT_CANCELLATION_COMPLETED), so the cleanup after a cancel never races a `docker run`.
 * Added in ef81f5b (2026-11-30). Deprecate once no run started before ef81f5b is open
 * (test/histories/deploy-cancel-mid-phase-before-wait-patch.json replays the old branch).
 */
export const CANCEL_WAITS_FOR_STEPS = 'cancel-waits-for-steps';

/**
 * A step over more than `childSteps.minHosts` hosts runs in a hostStepsWorkflow child, keeping the
 * cluster's history small at 128+ hosts. Added in e2bd2c9 (issue 15, merged in 4599d1a).
 * Deprecate once no run started before 4599d1a is open.
 */
export const HOST_STEPS_IN_CHILDREN = 'host-steps-in-children';

/**
 * run_docker fans an image archive (image_archive) out host to host and loads it where an image is
 * missing. Added in 92e8a81 (issue 16). Deprecate once no run started before 92e8a81 is open.
 */
export const IMAGE_ARCHIVE = 'image-archive';

/**
 * sync_code passes the code host to host when there are more targets than code_sync_fan_out.
 * Added in 643ae9d (issue 16). Deprecate once no run started before 643ae9d is open.
 */
export const CODE_SYNC_FAN_OUT = 'code-sync-fan-out';

/**
 * The health watch and self-healing of a ready cluster. Added in 24a0ded (issue 13).
 * Deprecate once no run started before 24a0ded is open.
 */
export const HEALTH_WATCH = 'health-watch';

/**
 * `deploy retry` of a failed run_server step relaunches the whole (multi-host) instance of that
 * host. Added in 13ef8da. Deprecate once no run started before 13ef8da is open.
 */
export const RETRY_RELAUNCHES_WHOLE_INSTANCE = 'retry-relaunches-whole-instance';

/**
 * `deploy restart` starts (or makes) the target hosts' containers before their engines: after a
 * reboot a container is only Created. Added in 7b63a41. Deprecate once no run started before
 * 7b63a41 is open.
 */
export const RESTART_ENSURES_CONTAINERS = 'restart-ensures-containers';

/**
 * Ranktables are content-addressed and the set is kept in step data. Added in e2bd2c9 (issue 15,
 * merged in 4599d1a). Deprecate once no run started before 4599d1a is open.
 */
export const RANKTABLES_BY_CONTENT = 'ranktables-by-content';

/**
 * An idle cluster workflow (ready, nothing queued or running) continues as new when its worker
 * runs a workflow build other than the one the run started on (workflowInfo().currentBuildId), so
 * a long-lived cluster moves to new workflow code at its next idle point. Added with this registry
 * (issue 22, branch wip/refactor). Deprecate once no run started before it is open.
 */
export const CONTINUE_AS_NEW_ON_UPGRADE = 'continue-as-new-on-upgrade';

/**
 * A repair whose attempt failed only because unit hosts do not answer (ConnectionError) waits for
 * those hosts to answer again (awaitHostAnswers) instead of spending its attempts on them, then
 * tries again. Added in issue 23. Deprecate once no run started before it is open.
 */
export const REPAIR_WAITS_FOR_HOST = 'repair-waits-for-host';

/** All the IDs above, for tests and docs. */
export const PATCHES = [
  ACTIVITY_IDS_NAME_HOST,
  CANCEL_WAITS_FOR_STEPS,
  HOST_STEPS_IN_CHILDREN,
  IMAGE_ARCHIVE,
  CODE_SYNC_FAN_OUT,
  HEALTH_WATCH,
  RETRY_RELAUNCHES_WHOLE_INSTANCE,
  RESTART_ENSURES_CONTAINERS,
  RANKTABLES_BY_CONTENT,
  CONTINUE_AS_NEW_ON_UPGRADE,
  REPAIR_WAITS_FOR_HOST,
] as const;
