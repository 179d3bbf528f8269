#!/bin/bash
# omni-deploy run_server: prefill engine on p0 (kv rank 0, Ray head).
# Generated from the Plan; changes here are overwritten on the next deploy.

# The image sets up its toolkit environment (CANN paths) in ~/.bashrc; the seed's run
# scripts source it too. It is not ours, so it runs before the strict mode.
# shellcheck disable=SC1091
if [ -f "$HOME/.bashrc" ]; then source "$HOME/.bashrc" >/dev/null 2>&1 || true; fi
set -euo pipefail

host_name=p0
host_address=10.0.0.1
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

port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
for port in 9000; do
  if port_in_use 127.0.0.1 "$port" || port_in_use "$host_address" "$port"; then
    fail "API port $port is already in use; ports are exact, so free it or change the API port in the inventory"
  fi
done

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
export NODE_RANK=0
export NODE_IP_LIST=10.0.0.1,10.0.0.2
export RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES=1
export RAY_CGRAPH_get_timeout=7200

ray_log=/data/log_path/ray.log
ray stop --force >>"$ray_log" 2>&1 || true
ray start --head --num-gpus=16 >>"$ray_log" 2>&1 || fail "ray start --head failed; see $ray_log"

# The engine starts only once every host of this instance is in the Ray group (bounded);
# started at once it would find this node alone, as its members join after this script.
await_ray_group() {
  local want=2 deadline=$((SECONDS + 300)) alive=0 listed member missing=''
  local members=('p1=10.0.0.2')
  while :; do
    alive=$(ray status 2>/dev/null | awk '/^Active:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /node_/ { n++ } END { print n + 0 }')
    if [ "$alive" -ge "$want" ]; then
      echo "omni-deploy: the Ray group has all $want nodes after $SECONDS s; starting the engine"
      exec "$@"
    fi
    [ "$SECONDS" -lt "$deadline" ] || break
    sleep 1
  done
  if listed=$(ray list nodes --filter state=ALIVE 2>/dev/null); then
    for member in "${members[@]}"; do
      grep -qwF -- "${member#*=}" <<<"$listed" || missing="${missing:+$missing, }${member%%=*} (${member#*=})"
    done
  else
    for member in "${members[@]}"; do missing="${missing:+$missing, }${member%%=*} (${member#*=})"; done
  fi
  echo 'omni-deploy: ERROR: run_server on p0: the Ray group of this prefill instance has' \
    "$alive of $want nodes after 300 s; not joined: ${missing:-none named};" \
    'see those hosts'\'' run_server step and /data/log_path/ray.log there, then deploy retry' >&2
  exit 1
}
export -f await_ray_group

vllm_args=(serve /data/models/DeepSeek-R1-w8a8-fusion --trust-remote-code --gpu-memory-utilization 0.92 --block_size 128 --tensor-parallel-size 32 --data-parallel-size 1 --data-parallel-size-local 1 --data-parallel-address 10.0.0.1 --data-parallel-rpc-port 8000 --served-model-name deepseek --max-model-len 32000 --kv-transfer-config '{"kv_connector":"AscendHcclConnectorV1","kv_buffer_device":"npu","kv_role":"kv_producer","kv_rank":0,"engine_id":0,"kv_parallel_size":2}' --distributed-executor-backend ray --max-num-batched-tokens 30000 --enforce-eager --enable-expert-parallel --disable-log-requests --max-num-seqs 16)
declare -a pids
start_server() {
  local rank=$1 port=$2 dp_rank=$3
  local log="$log_dir/server_$rank.log"
  echo "=== omni-deploy: starting DP rank $dp_rank on port $port at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
  # Without job control a background child is not a group leader, so setsid turns this very
  # process into the leader of a new session and group instead of forking: $! is its group id.
  VLLM_DP_SIZE=1 VLLM_DP_RANK="$dp_rank" VLLM_DP_RANK_LOCAL="$dp_rank" VLLM_DP_MASTER_IP=10.0.0.1 VLLM_DP_MASTER_PORT=8000 \
    setsid bash -c 'await_ray_group "$@"' await_ray_group vllm "${vllm_args[@]}" --port "$port" >>"$log" 2>&1 </dev/null &
  pids[rank]=$!
  echo "$! $(start_time $!)" >"$run_dir/server_$rank.pid"
}
start_server 0 9000 0

printf '{"host":"p0","role":"prefill","ray":"head","servers":[
  {"rank":0,"dpRank":0,"port":9000,"pid":%d,"log":"/data/log_path/server_0.log","pidFile":"/tmp/omni-deploy/run/server_0.pid"}
]}
' "${pids[0]}" >"$run_dir/servers.json.tmp"
mv "$run_dir/servers.json.tmp" "$run_dir/servers.json"

echo "run_server on $host_name: started 1 API server(s) on port(s) 9000; manifest $run_dir/servers.json"
