import { shellQuote } from '../../shared/shellQuote';
import { rayLogFile } from './files';
import type { EngineLaunchSpec, MultiNodeLaunch } from './types';

/**
 * The Ray group of a prefill instance that spans hosts: the head starts it, every other host of
 * the instance joins it, and the head's engine starts only once all of them are in it.
 */

const RAY_PORT = 6379;
const RAY_JOIN_RETRY_SECONDS = 5;
export const DEFAULT_RAY_JOIN_TIMEOUT_SECONDS = 300;

/** The shell function the head's servers are started through (see rayGroupWait). */
export const AWAIT_RAY_GROUP = 'await_ray_group';

const joinTimeout = (multi: MultiNodeLaunch) => multi.joinTimeoutSeconds ?? DEFAULT_RAY_JOIN_TIMEOUT_SECONDS;

/** Head: a fresh `ray start --head`. Member: join the head, retried every 5 s, bounded. */
export function rayStart(spec: EngineLaunchSpec, multi: MultiNodeLaunch): string[] {
  const gpus = `--num-gpus=${spec.host.devices.length}`;
  const lines = [
    `ray_log=${shellQuote(rayLogFile(spec.logDir))}`,
    'ray stop --force >>"$ray_log" 2>&1 || true',
  ];
  if (multi.isHead) {
    lines.push(`ray start --head ${gpus} >>"$ray_log" 2>&1 || fail "ray start --head failed; see $ray_log"`);
    return lines;
  }
  const timeout = joinTimeout(multi);
  lines.push(
    `ray_head=${shellQuote(`${multi.headAddress}:${RAY_PORT}`)}`,
    "# Bounded: the seed's retry loop never advanced its counter and could wait forever.",
    `join_deadline=$((SECONDS + ${timeout}))`,
    // Workers declare their NPUs like the head does, so Ray's GPU count covers the whole instance.
    `until ray start --address="$ray_head" ${gpus} >>"$ray_log" 2>&1; do`,
    `  [ "$SECONDS" -lt "$join_deadline" ] || fail "could not join the Ray head at $ray_head within ${timeout} s (last: $(tail -n 1 "$ray_log")); see $ray_log"`,
    `  sleep ${RAY_JOIN_RETRY_SECONDS}`,
    'done',
  );
  return lines;
}

/**
 * On the head, each server runs through this function (`setsid bash -c`, so it is the server's
 * process and group): it waits until the Ray group has every host of the instance, then becomes
 * the engine. Started at once, the engine would find the head alone — the members join in the next
 * launch wave — and fail. On timeout it names the members missing from the group in the server's
 * log and exits, which the readiness check reports with the log's last lines.
 *
 * Nodes are counted from `ray status` (one `node_…` line per active node, in every Ray version);
 * missing members are told apart by address in `ray list nodes` (Ray's state API; without it every
 * member is named).
 */
export function rayGroupWait(spec: EngineLaunchSpec, multi: MultiNodeLaunch): string[] {
  const q = shellQuote;
  const members = multi.nodeIpList
    .map((address, i) => ({ address, name: multi.nodeNames[i]! }))
    .filter((m) => m.address !== spec.host.address);
  const timeout = joinTimeout(multi);
  const named = (m: string) => `missing="\${missing:+$missing, }\${${m}%%=*} (\${${m}#*=})"`;
  return [
    '# The engine starts only once every host of this instance is in the Ray group (bounded);',
    '# started at once it would find this node alone, as its members join after this script.',
    `${AWAIT_RAY_GROUP}() {`,
    `  local want=${multi.nnodes} deadline=$((SECONDS + ${timeout})) alive=0 listed member missing=''`,
    `  local members=(${members.map((m) => q(`${m.name}=${m.address}`)).join(' ')})`,
    '  while :; do',
    `    alive=$(ray status 2>/dev/null | awk '/^Active:/ { on = 1; next } /^[^ ]/ { on = 0 } on && /node_/ { n++ } END { print n + 0 }')`,
    '    if [ "$alive" -ge "$want" ]; then',
    '      echo "omni-deploy: the Ray group has all $want nodes after $SECONDS s; starting the engine"',
    '      exec "$@"',
    '    fi',
    '    [ "$SECONDS" -lt "$deadline" ] || break',
    '    sleep 1',
    '  done',
    '  if listed=$(ray list nodes --filter state=ALIVE 2>/dev/null); then',
    '    for member in "${members[@]}"; do',
    `      grep -qwF -- "\${member#*=}" <<<"$listed" || ${named('member')}`,
    '    done',
    '  else',
    `    for member in "\${members[@]}"; do ${named('member')}; done`,
    '  fi',
    `  echo ${q(`omni-deploy: ERROR: run_server on ${spec.host.name}: the Ray group of this prefill instance has`)} \\`,
    `    "$alive of $want nodes after ${timeout} s; not joined: \${missing:-none named};" \\`,
    `    ${q(`see those hosts' run_server step and ${rayLogFile(spec.logDir)} there, then deploy retry`)} >&2`,
    '  exit 1',
    '}',
    `export -f ${AWAIT_RAY_GROUP}`,
  ];
}
