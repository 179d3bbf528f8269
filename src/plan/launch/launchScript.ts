import { shellJoin, shellQuote } from '../../shared/shellQuote';
import { engineEnvironment, exportLines, SOCKET_IFNAME_VAR } from './environment';
import { MANIFEST_FILE, SERVER_START_MARKER, serverLogFile, serverPidFile, trimDir } from './files';
import { PROCESS_GROUP_FUNCTIONS } from './processGroups';
import { AWAIT_RAY_GROUP, rayGroupWait, rayStart } from './rayGroup';
import type { EngineLaunchSpec } from './types';
import { vllmServeArgs } from './vllmArgs';

/**
 * The whole run_server step of one host as one bash script, equivalent to the seed's
 * vllm_run_for_p/d.sh → pd_run.sh → start_api_servers.py chain: exports the engine
 * environment, joins or starts Ray for a multi-node prefill, starts one `vllm serve` per API
 * server in its own process group with its own log and pid file, writes
 * `<runDir>/servers.json`, and exits 0. Every inventory value is shell-quoted.
 */
export function renderLaunchScript(spec: EngineLaunchSpec): string {
  validate(spec);
  const q = shellQuote;
  const header = [
    '#!/bin/bash',
    `# omni-deploy run_server: ${describe(spec)}.`,
    '# Generated from the Plan; changes here are overwritten on the next deploy.',
  ];
  const bashrc = [
    "# The image sets up its toolkit environment (CANN paths) in ~/.bashrc; the seed's run",
    '# scripts source it too. It is not ours, so it runs before the strict mode.',
    '# shellcheck disable=SC1091',
    'if [ -f "$HOME/.bashrc" ]; then source "$HOME/.bashrc" >/dev/null 2>&1 || true; fi',
    'set -euo pipefail',
  ];
  const settings = [
    `host_name=${q(spec.host.name)}`,
    `host_address=${q(spec.host.address)}`,
    `log_dir=${q(trimDir(spec.logDir))}`,
    `run_dir=${q(trimDir(spec.runDir))}`,
  ];
  const sections = [
    header,
    bashrc,
    settings,
    ['fail() { echo "run_server on $host_name: $*" >&2; exit 1; }'],
    [PROCESS_GROUP_FUNCTIONS],
    ['mkdir -p "$log_dir" "$run_dir"'],
    socketInterface(spec),
    previousStartCheck(),
    portCheck(spec),
    exportLines(engineEnvironment(spec)),
    spec.multiNode ? rayStart(spec, spec.multiNode) : [],
    spec.multiNode?.isHead ? rayGroupWait(spec, spec.multiNode) : [],
    servers(spec),
    manifest(spec),
    [`echo "run_server on $host_name: ${summary(spec)}; manifest $run_dir/${MANIFEST_FILE}"`],
  ];
  return `${sections
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.join('\n'))
    .join('\n\n')}\n`;
}

function describe(spec: EngineLaunchSpec): string {
  const ray = spec.multiNode ? (spec.multiNode.isHead ? ', Ray head' : ', Ray worker') : '';
  return `${spec.role} engine on ${spec.host.name} (kv rank ${spec.kv.rank}${ray})`;
}

function summary(spec: EngineLaunchSpec): string {
  if (spec.apiServers.length === 0) return 'joined the Ray head, no API server on this host';
  const ports = spec.apiServers.map((s) => s.port);
  return `started ${ports.length} API server(s) on port(s) ${ports.join(',')}`;
}

function validate(spec: EngineLaunchSpec): void {
  const where = `launch spec of host ${spec.host.name}`;
  const worker = spec.multiNode !== undefined && !spec.multiNode.isHead;
  if (worker && spec.apiServers.length > 0) {
    throw new Error(`${where}: a Ray worker runs no API server, but ${spec.apiServers.length} are listed`);
  }
  if (!worker && spec.apiServers.length === 0) throw new Error(`${where}: no API server to start`);
  const multi = spec.multiNode;
  if (multi && multi.nodeNames.length !== multi.nodeIpList.length) {
    throw new Error(
      `${where}: ${multi.nodeNames.length} node names for ${multi.nodeIpList.length} node addresses`,
    );
  }
  const ports = new Set(spec.apiServers.map((s) => s.port));
  if (ports.size !== spec.apiServers.length) throw new Error(`${where}: two API servers share a port`);
  for (const s of spec.apiServers) {
    if (!Number.isInteger(s.port) || s.port < 1 || s.port > 65535)
      throw new Error(`${where}: bad API port ${s.port}`);
    if (s.dpRank < 0 || s.dpRank >= spec.dp.size) {
      throw new Error(`${where}: DP rank ${s.dpRank} outside the instance's DP size ${spec.dp.size}`);
    }
  }
}

/**
 * GLOO/TP sockets must use the interface that carries the host's inventory address; the seed
 * took the default-route interface, which is only right when both coincide.
 */
function socketInterface(spec: EngineLaunchSpec): string[] {
  if (spec.socketIfname !== undefined) return [`${SOCKET_IFNAME_VAR}=${shellQuote(spec.socketIfname)}`];
  return [
    `${SOCKET_IFNAME_VAR}=$(ip -o -4 addr show 2>/dev/null | awk -v a="$host_address" '{ split($4, p, "/"); if (p[1] == a) { print $2; exit } }') || true`,
    `if [ -z "$${SOCKET_IFNAME_VAR}" ]; then`,
    `  ${SOCKET_IFNAME_VAR}=$(ip -4 route list 0/0 2>/dev/null | awk '{ print $5; exit }') || true`,
    'fi',
    `[ -n "$${SOCKET_IFNAME_VAR}" ] || fail "no network interface holds $host_address and there is no default route; set the socket interface in the inventory"`,
  ];
}

/** A start over a running one would fight for ports and lose the old pid files. */
function previousStartCheck(): string[] {
  return [
    'for f in "$run_dir"/server_*.pid; do',
    '  [ -f "$f" ] || continue',
    '  read -r pid started < "$f" || true',
    '  if [ -n "${pid:-}" ] && owned_group "$pid" "${started:-0}"; then',
    '    fail "servers of a previous start are still running (process group $pid in $f); run the stop script first"',
    '  fi',
    'done',
    `rm -f "$run_dir"/server_*.pid "$run_dir/${MANIFEST_FILE}"`,
  ];
}

/**
 * start_api_servers.py moved a server to the next free port when its own was busy, silently
 * desynchronising the proxy's upstream list. Ports here are exact: a busy one stops the start.
 */
function portCheck(spec: EngineLaunchSpec): string[] {
  if (spec.apiServers.length === 0) return [];
  return [
    'port_in_use() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }',
    `for port in ${spec.apiServers.map((s) => s.port).join(' ')}; do`,
    '  if port_in_use 127.0.0.1 "$port" || port_in_use "$host_address" "$port"; then',
    '    fail "API port $port is already in use; ports are exact, so free it or change the API port in the inventory"',
    '  fi',
    'done',
  ];
}

function servers(spec: EngineLaunchSpec): string[] {
  if (spec.apiServers.length === 0) return [];
  // On a Ray head the server waits for its instance's Ray group first (rayGroupWait).
  const engine = spec.multiNode?.isHead
    ? `bash -c '${AWAIT_RAY_GROUP} "$@"' ${AWAIT_RAY_GROUP} vllm`
    : 'vllm';
  const dpEnv = [
    `VLLM_DP_SIZE=${spec.dp.size}`,
    'VLLM_DP_RANK="$dp_rank"',
    'VLLM_DP_RANK_LOCAL="$dp_rank"',
    `VLLM_DP_MASTER_IP=${shellQuote(spec.dp.masterIp)}`,
    `VLLM_DP_MASTER_PORT=${spec.dp.masterPort}`,
  ].join(' ');
  return [
    `vllm_args=(${shellJoin(vllmServeArgs(spec))})`,
    'declare -a pids',
    'start_server() {',
    '  local rank=$1 port=$2 dp_rank=$3',
    '  local log="$log_dir/server_$rank.log"',
    `  echo "${SERVER_START_MARKER} DP rank $dp_rank on port $port at $(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$log"`,
    '  # Without job control a background child is not a group leader, so setsid turns this very',
    '  # process into the leader of a new session and group instead of forking: $! is its group id.',
    `  ${dpEnv} \\`,
    `    setsid ${engine} "\${vllm_args[@]}" --port "$port" >>"$log" 2>&1 </dev/null &`,
    '  pids[rank]=$!',
    '  echo "$! $(start_time $!)" >"$run_dir/server_$rank.pid"',
    '}',
    ...spec.apiServers.map((s, rank) => `start_server ${rank} ${s.port} ${s.dpRank}`),
  ];
}

/** printf format text: the manifest with `%d` where each server's pid goes. */
function manifestFormat(spec: EngineLaunchSpec): string {
  const text = (s: string) => JSON.stringify(s).replace(/\\/g, '\\\\').replace(/%/g, '%%');
  const ray = spec.multiNode ? (spec.multiNode.isHead ? 'head' : 'worker') : 'none';
  const servers = spec.apiServers.map((s, rank) => {
    const fields = [
      `"rank":${rank}`,
      `"dpRank":${s.dpRank}`,
      `"port":${s.port}`,
      '"pid":%d',
      `"log":${text(serverLogFile(spec.logDir, rank))}`,
      `"pidFile":${text(serverPidFile(spec.runDir, rank))}`,
    ];
    return `  {${fields.join(',')}}`;
  });
  const header = `{"host":${text(spec.host.name)},"role":"${spec.role}","ray":"${ray}","servers":[`;
  return `${header}\n${servers.join(',\n')}${servers.length ? '\n' : ''}]}\n`;
}

/** Written last and renamed into place, so a reader never sees a half-started host. */
function manifest(spec: EngineLaunchSpec): string[] {
  const pids = spec.apiServers.map((_, rank) => ` "\${pids[${rank}]}"`).join('');
  return [
    `printf ${shellQuote(manifestFormat(spec))}${pids} >"$run_dir/${MANIFEST_FILE}.tmp"`,
    `mv "$run_dir/${MANIFEST_FILE}.tmp" "$run_dir/${MANIFEST_FILE}"`,
  ];
}
