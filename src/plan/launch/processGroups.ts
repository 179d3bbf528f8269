/**
 * Bash functions shared by the launch and stop scripts to recognise the process groups they
 * own. A pid file holds "<pid> <start time>" of a server, which leads its own process group.
 *
 * Liveness comes from /proc rather than `kill -0`: when the container's PID 1 reaps orphans
 * late (or never), exited servers linger as zombies and `kill -0` would call them alive.
 */
export const PROCESS_GROUP_FUNCTIONS = `# Start time of a process (clock ticks since boot), 0 when it is gone.
start_time() {
  local s a
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  s=\${s##*) }
  read -r -a a <<< "$s"
  echo "\${a[19]:-0}"
}

# Ids of the process groups that still have a member that is not a zombie.
live_groups() {
  local f s a
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2>/dev/null || continue
    s=\${s##*) }
    read -r -a a <<< "$s"
    [ "\${a[0]}" = Z ] || echo "\${a[2]}"
  done
}

# Whether the group recorded as "<pid> <start time>" is still ours and alive. A group id cannot
# be reused while any member lives, but the leader's pid can once the leader is gone: a leader
# with another start time is someone else's process.
owned_group() {
  local pid=$1 started=$2 live now
  # Captured first: with pipefail, grep -q leaving early would fail the pipeline.
  live=$(live_groups)
  grep -qx -- "$pid" <<< "$live" || return 1
  now=$(start_time "$pid")
  [ "$now" = 0 ] || [ "$now" = "$started" ]
}`;
