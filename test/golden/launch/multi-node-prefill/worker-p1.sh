#!/bin/bash
# omni-deploy run_server: prefill engine on p1 (kv rank 0, Ray worker).
# Generated from the Plan; changes here are overwritten on the next deploy.

# The image sets up its toolkit environment (CANN paths) in ~/.bashrc; the seed's run
# scripts source it too. It is not ours, so it runs before the strict mode.
# shellcheck disable=SC1091
if [ -f "$HOME/.bashrc" ]; then source "$HOME/.bashrc" >/dev/null 2>&1 || true; fi
set -euo pipefail

host_name=p1
host_address=10.0.0.2
log_dir=/data/log_path
run_dir=/tmp/omni-deploy/run

fail() { echo "run_server on $host_name: $*" >&2; exit 1; }

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

mkdir -p "$log_dir" "$run_dir"

socket_ifname=$(ip -o -4 addr show 2>/dev/null | awk -v a="$host_address" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }') || true
if [ -z "$socket_ifname" ]; then
  socket_ifname=$(ip -4 route list 0/0 2>/dev/null | awk '{ print $5; exit }') || true
fi
[ -n "$socket_ifname" ] || fail "no network interface holds $host_address and there is no default route; set the socket interface in the inventory"

for f in "$run_dir"/server_*.pid; do
  [ -f "$f" ] || continue
  read -r pid started < "$f" || true
  if [ -n "${pid:-}" ] && owned_group "$pid" "${started:-0}"; then
    fail "servers of a previous start are still running (process group $pid in $f); run the stop script first"
  fi
done
rm -f "$run_dir"/server_*.pid "$run_dir/servers.json"

export GLOBAL_RANK_TABLE_FILE_PATH=/tmp/ranktable_save_path/global/global_ranktable_merge.json
export RANK_TABLE_FILE_PATH=/tmp/ranktable_save_path/global/collect_files_p/10.0.0.1/local_ranktable_merge.json
export LOCAL_DECODE_SERVER_IP_LIST=10.0.0.3,10.0.0.4
export GLOBAL_DECODE_SERVER_IP_LIST=10.0.0.3,10.0.0.4
export ROLE=prefill
export PREFILL_POD_NUM=1
export DECODE_POD_NUM=2
export VLLM_LLMDATADIST_ZMQ_PORT=5568
export HCCL_INTRA_ROCE_ENABLE=1
export HCCL_INTRA_PCIE_ENABLE=0
export ASCEND_RT_VISIBLE_DEVICES=0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
export GLOO_SOCKET_IFNAME="$socket_ifname"
export TP_SOCKET_IFNAME="$socket_ifname"
export VLLM_LOGGING_LEVEL=INFO
export VLLM_USE_V1=1
export VLLM_WORKER_MULTIPROC_METHOD=fork
export SERVER_OFFSET=0
export MODEL_EXTRA_CFG_PATH=/data/local_code_path/omniinfer/tests/test_config/test_config_prefill.json
export USING_LCCL_COM=0
export OMNI_USE_DSV3=1
export VLLM_ENABLE_MC2=1
export HCCL_OP_EXPANSION_MODE=AIV
export HCCL_CONNECT_TIMEOUT=1800
export HCCL_EXEC_TIMEOUT=1800
export TNG_HOST_COPY=1
export AUTO_USE_UC_MEMORY=1
export TASK_QUEUE_ENABLE=2
export PYTORCH_NPU_ALLOC_CONF=expandable_segments:True
export MASTER_NODE_IP=10.0.0.1
export NNODES=2
export NODE_RANK=1
export NODE_IP_LIST=10.0.0.1,10.0.0.2
export RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES=1
export RAY_CGRAPH_get_timeout=7200

ray_log=/data/log_path/ray.log
ray stop --force >>"$ray_log" 2>&1 || true
ray_head=10.0.0.1:6379
# Bounded: the seed's retry loop never advanced its counter and could wait forever.
join_deadline=$((SECONDS + 300))
until ray start --address="$ray_head" --num-gpus=16 >>"$ray_log" 2>&1; do
  [ "$SECONDS" -lt "$join_deadline" ] || fail "could not join the Ray head at $ray_head within 300 s (last: $(tail -n 1 "$ray_log")); see $ray_log"
  sleep 5
done

printf '{"host":"p1","role":"prefill","ray":"worker","servers":[
]}
' >"$run_dir/servers.json.tmp"
mv "$run_dir/servers.json.tmp" "$run_dir/servers.json"

echo "run_server on $host_name: joined the Ray head, no API server on this host; manifest $run_dir/servers.json"
