#!/bin/bash
# omni-deploy: stops the engine servers that the run_server script started on this host.
# Generated from the Plan; changes here are overwritten on the next deploy.
set -o pipefail

run_dir=/tmp/omni-deploy/run

# Start time of a process (clock ticks since boot), 0 when it is gone.
start_time() {
  local s a
  { read -r s < "/proc/$1/stat"; } 2>/dev/null || { echo 0; return; }
  s=${s##*) }
  read -r -a a <<< "$s"
  echo "${a[19]:-0}"
}

# Ids of the process groups that still have a member that is not a zombie.
live_groups() {
  local f s a
  for f in /proc/[0-9]*/stat; do
    { read -r s < "$f"; } 2>/dev/null || continue
    s=${s##*) }
    read -r -a a <<< "$s"
    [ "${a[0]}" = Z ] || echo "${a[2]}"
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
}

groups=()
for f in "$run_dir"/server_*.pid; do
  [ -f "$f" ] || continue
  pid="" started=""
  read -r pid started < "$f"
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$pid" -gt 1 ] || continue
  if owned_group "$pid" "${started:-0}"; then
    groups+=("$pid")
    kill -TERM -- "-$pid" 2>/dev/null
  fi
done

# Members of the given groups that are still alive.
still_alive() {
  local live
  live=$(live_groups)
  for pid in "$@"; do grep -qx -- "$pid" <<< "$live" && echo "$pid"; done
}
wait_groups() {
  local deadline=$((SECONDS + $1)); shift
  alive=("$@")
  while [ ${#alive[@]} -gt 0 ]; do
    mapfile -t alive < <(still_alive "${alive[@]}")
    [ ${#alive[@]} -gt 0 ] && [ "$SECONDS" -lt "$deadline" ] || break
    sleep 0.5
  done
}

wait_groups 30 "${groups[@]}"
killed=("${alive[@]}")
for pid in "${killed[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
[ ${#killed[@]} -eq 0 ] || wait_groups 5 "${killed[@]}"

# Pid files of survivors stay, so running this again retries them.
if [ ${#alive[@]} -gt 0 ]; then
  echo "process group(s) ${alive[*]} survived KILL" >&2
  exit 1
fi
rm -f "$run_dir"/server_*.pid "$run_dir/servers.json"
echo "stopped ${#groups[@]} engine process group(s) (${#killed[@]} needed KILL after 30 s)"
