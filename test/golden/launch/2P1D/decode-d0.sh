#!/bin/bash
# omni-deploy run_server: decode engine on d0 (kv rank 2).
# Generated from the Plan; changes here are overwritten on the next deploy.

# The image sets up its toolkit environment (CANN paths) in ~/.bashrc; the seed's run
# scripts source it too. It is not ours, so it runs before the strict mode.
# shellcheck disable=SC1091
if [ -f "$HOME/.bashrc" ]; then source "$HOME/.bashrc" >/dev/null 2>&1 || true; fi
set -euo pipefail

host_name=d0
host_address=10.0.0.3
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
for port in 9100 9101 9102 9103 9104 9105 9106 9107 9108 9109 9110 9111 9112 9113 9114 9115; do
  if port_in_use 127.0.0.1 "$port" || port_in_use "$host_address" "$port"; then
    fail "API port $port is already in use; ports are exact, so free it or change the API port in the inventory"
  fi
done

export GLOBAL_RANK_TABLE_FILE_PATH=/tmp/ranktable_save_path/global/global_ranktable_merge.json
export RANK_TABLE_FILE_PATH=/tmp/ranktable_save_path/global/collect_files_d/local_ranktable_merge.json
export LOCAL_DECODE_SERVER_IP_LIST=10.0.0.3,10.0.0.4
export GLOBAL_DECODE_SERVER_IP_LIST=10.0.0.3,10.0.0.4
export ROLE=decode
export PREFILL_POD_NUM=2
export DECODE_POD_NUM=2
export VLLM_LLMDATADIST_ZMQ_PORT=5568
export HCCL_INTRA_ROCE_ENABLE=1
export HCCL_INTRA_PCIE_ENABLE=0
export GLOO_SOCKET_IFNAME="$socket_ifname"
export TP_SOCKET_IFNAME="$socket_ifname"
export VLLM_LOGGING_LEVEL=INFO
export VLLM_USE_V1=1
export VLLM_WORKER_MULTIPROC_METHOD=fork
export SERVER_OFFSET=0
export MODEL_EXTRA_CFG_PATH=/data/local_code_path/omniinfer/tests/test_config/test_config_decode.json
export USING_LCCL_COM=0
export OMNI_USE_DSV3=1
export VLLM_ENABLE_MC2=1
export HCCL_OP_EXPANSION_MODE=AIV
export HCCL_BUFFSIZE=1000
export HCCL_CONNECT_TIMEOUT=1800
export HCCL_EXEC_TIMEOUT=1800
export TNG_HOST_COPY=1
export AUTO_USE_UC_MEMORY=1
export TASK_QUEUE_ENABLE=2
export PYTORCH_NPU_ALLOC_CONF=expandable_segments:True

vllm_args=(serve /data/models/DeepSeek-R1-w8a8-fusion --trust-remote-code --gpu-memory-utilization 0.92 --block_size 128 --tensor-parallel-size 1 --data-parallel-size 1 --data-parallel-size-local 1 --data-parallel-address 10.0.0.3 --data-parallel-rpc-port 8100 --served-model-name deepseek --max-model-len 16384 --kv-transfer-config '{"kv_connector":"AscendHcclConnectorV1","kv_buffer_device":"npu","kv_role":"kv_consumer","kv_rank":2,"engine_id":2,"kv_parallel_size":3}' --enable-expert-parallel --disable-log-requests --max-num-seqs 32 --additional-config '{"graph_model_compile_config":{"level":1}}')
declare -a pids
start_server() {
  local rank=$1 port=$2 dp_rank=$3
  local log="$log_dir/server_$rank.log"
  echo "=== omni-deploy: starting DP rank $dp_rank on port $port at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"
  # Without job control a background child is not a group leader, so setsid turns this very
  # process into the leader of a new session and group instead of forking: $! is its group id.
  VLLM_DP_SIZE=32 VLLM_DP_RANK="$dp_rank" VLLM_DP_RANK_LOCAL="$dp_rank" VLLM_DP_MASTER_IP=10.0.0.3 VLLM_DP_MASTER_PORT=8100 \
    setsid vllm "${vllm_args[@]}" --port "$port" >>"$log" 2>&1 </dev/null &
  pids[rank]=$!
  echo "$! $(start_time $!)" >"$run_dir/server_$rank.pid"
}
start_server 0 9100 0
start_server 1 9101 1
start_server 2 9102 2
start_server 3 9103 3
start_server 4 9104 4
start_server 5 9105 5
start_server 6 9106 6
start_server 7 9107 7
start_server 8 9108 8
start_server 9 9109 9
start_server 10 9110 10
start_server 11 9111 11
start_server 12 9112 12
start_server 13 9113 13
start_server 14 9114 14
start_server 15 9115 15

printf '{"host":"d0","role":"decode","ray":"none","servers":[
  {"rank":0,"dpRank":0,"port":9100,"pid":%d,"log":"/data/log_path/server_0.log","pidFile":"/tmp/omni-deploy/run/server_0.pid"},
  {"rank":1,"dpRank":1,"port":9101,"pid":%d,"log":"/data/log_path/server_1.log","pidFile":"/tmp/omni-deploy/run/server_1.pid"},
  {"rank":2,"dpRank":2,"port":9102,"pid":%d,"log":"/data/log_path/server_2.log","pidFile":"/tmp/omni-deploy/run/server_2.pid"},
  {"rank":3,"dpRank":3,"port":9103,"pid":%d,"log":"/data/log_path/server_3.log","pidFile":"/tmp/omni-deploy/run/server_3.pid"},
  {"rank":4,"dpRank":4,"port":9104,"pid":%d,"log":"/data/log_path/server_4.log","pidFile":"/tmp/omni-deploy/run/server_4.pid"},
  {"rank":5,"dpRank":5,"port":9105,"pid":%d,"log":"/data/log_path/server_5.log","pidFile":"/tmp/omni-deploy/run/server_5.pid"},
  {"rank":6,"dpRank":6,"port":9106,"pid":%d,"log":"/data/log_path/server_6.log","pidFile":"/tmp/omni-deploy/run/server_6.pid"},
  {"rank":7,"dpRank":7,"port":9107,"pid":%d,"log":"/data/log_path/server_7.log","pidFile":"/tmp/omni-deploy/run/server_7.pid"},
  {"rank":8,"dpRank":8,"port":9108,"pid":%d,"log":"/data/log_path/server_8.log","pidFile":"/tmp/omni-deploy/run/server_8.pid"},
  {"rank":9,"dpRank":9,"port":9109,"pid":%d,"log":"/data/log_path/server_9.log","pidFile":"/tmp/omni-deploy/run/server_9.pid"},
  {"rank":10,"dpRank":10,"port":9110,"pid":%d,"log":"/data/log_path/server_10.log","pidFile":"/tmp/omni-deploy/run/server_10.pid"},
  {"rank":11,"dpRank":11,"port":9111,"pid":%d,"log":"/data/log_path/server_11.log","pidFile":"/tmp/omni-deploy/run/server_11.pid"},
  {"rank":12,"dpRank":12,"port":9112,"pid":%d,"log":"/data/log_path/server_12.log","pidFile":"/tmp/omni-deploy/run/server_12.pid"},
  {"rank":13,"dpRank":13,"port":9113,"pid":%d,"log":"/data/log_path/server_13.log","pidFile":"/tmp/omni-deploy/run/server_13.pid"},
  {"rank":14,"dpRank":14,"port":9114,"pid":%d,"log":"/data/log_path/server_14.log","pidFile":"/tmp/omni-deploy/run/server_14.pid"},
  {"rank":15,"dpRank":15,"port":9115,"pid":%d,"log":"/data/log_path/server_15.log","pidFile":"/tmp/omni-deploy/run/server_15.pid"}
]}
' "${pids[0]}" "${pids[1]}" "${pids[2]}" "${pids[3]}" "${pids[4]}" "${pids[5]}" "${pids[6]}" "${pids[7]}" "${pids[8]}" "${pids[9]}" "${pids[10]}" "${pids[11]}" "${pids[12]}" "${pids[13]}" "${pids[14]}" "${pids[15]}" >"$run_dir/servers.json.tmp"
mv "$run_dir/servers.json.tmp" "$run_dir/servers.json"

echo "run_server on $host_name: started 16 API server(s) on port(s) 9100,9101,9102,9103,9104,9105,9106,9107,9108,9109,9110,9111,9112,9113,9114,9115; manifest $run_dir/servers.json"
