import { shellQuote } from '../../shared/shellQuote';
import { MANIFEST_FILE, trimDir } from './files';
import { PROCESS_GROUP_FUNCTIONS } from './processGroups';
import type { EngineLaunchSpec, EngineStopSpec } from './types';

const DEFAULT_GRACE_SECONDS = 30;
/** After KILL a group should vanish at once; this only covers the kernel tearing it down. */
const KILL_WAIT_SECONDS = 5;

/** The stop spec that matches a launch spec: same run folder, Ray stopped where Ray was started. */
export function stopSpecFor(launch: EngineLaunchSpec, graceSeconds?: number): EngineStopSpec {
  return {
    runDir: launch.runDir,
    ray: launch.multiNode !== undefined,
    ...(graceSeconds === undefined ? {} : { graceSeconds }),
  };
}

/**
 * Stops exactly the process groups recorded in the launch script's pid files: TERM, a grace
 * period, then KILL for what is left. Never a kill by process name (the seed `kill -9`ed every
 * python in the container). Groups already gone are fine; exits non-zero only when a group
 * survives KILL.
 */
export function renderStopScript(spec: EngineStopSpec): string {
  const grace = spec.graceSeconds ?? DEFAULT_GRACE_SECONDS;
  const lines = [
    '#!/bin/bash',
    '# omni-deploy: stops the engine servers that the run_server script started on this host.',
    '# Generated from the Plan; changes here are overwritten on the next deploy.',
    'set -o pipefail',
    '',
    `run_dir=${shellQuote(trimDir(spec.runDir))}`,
    '',
    PROCESS_GROUP_FUNCTIONS,
    '',
    'groups=()',
    'for f in "$run_dir"/server_*.pid; do',
    '  [ -f "$f" ] || continue',
    '  pid="" started=""',
    '  read -r pid started < "$f"',
    '  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || continue',
    '  if owned_group "$pid" "${started:-0}"; then',
    '    groups+=("$pid")',
    '    kill -TERM -- "-$pid" 2>/dev/null',
    '  fi',
    'done',
    '',
    '# Members of the given groups that are still alive.',
    'still_alive() {',
    '  local live',
    '  live=$(live_groups)',
    '  for pid in "$@"; do grep -qx -- "$pid" <<< "$live" && echo "$pid"; done',
    '}',
    'wait_groups() {',
    '  local deadline=$((SECONDS + $1)); shift',
    '  alive=("$@")',
    '  while [ ${#alive[@]} -gt 0 ]; do',
    '    mapfile -t alive < <(still_alive "${alive[@]}")',
    '    [ ${#alive[@]} -gt 0 ] && [ "$SECONDS" -lt "$deadline" ] || break',
    '    sleep 0.5',
    '  done',
    '}',
    '',
    `wait_groups ${grace} "\${groups[@]}"`,
    'killed=("${alive[@]}")',
    'for pid in "${killed[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done',
    `[ \${#killed[@]} -eq 0 ] || wait_groups ${KILL_WAIT_SECONDS} "\${killed[@]}"`,
    '',
    '# Pid files of survivors stay, so running this again retries them.',
    'if [ ${#alive[@]} -gt 0 ]; then',
    '  echo "process group(s) ${alive[*]} survived KILL" >&2',
    '  exit 1',
    'fi',
    `rm -f "$run_dir"/server_*.pid "$run_dir/${MANIFEST_FILE}"`,
  ];
  if (spec.ray) {
    // Ray's own stop ends the daemons `ray start` left on this host (the seed killed every
    // process named "ray" instead).
    lines.push('ray stop --force >/dev/null 2>&1 || true');
  }
  lines.push(
    'echo "stopped ${#groups[@]} engine process group(s) (${#killed[@]} needed KILL after ' + `${grace} s)"`,
    '',
  );
  return lines.join('\n');
}
