import {
  DECODE_BODY_VAR,
  DECODE_LOCATION,
  PD_NJS,
  PREFILL_LOCATION,
  PROBE_LOCATION,
  healthVar,
  probeUpstreamName,
  type Role,
} from './pdNjs';
import type { ProxyBalance } from '../../shared/proxyBalance';
import type { ProxyConfig, ProxyConfigSpec } from './types';

export const DEBIAN_JS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const DEFAULT_REQUEST_TIMEOUT_SECONDS = 14400;
/** Passive checks (the seed: 3 fails in 10 s): a dead server is skipped after its first failure. */
const MAX_FAILS = 1;
const FAIL_TIMEOUT = '5s';
/**
 * A live engine accepts at once (the kernel completes the handshake even when it is busy), so a
 * connection not made within 2 s is a dead or unreachable host: the request moves on.
 */
const CONNECT_TIMEOUT = '2s';
/** Longest a request spends moving on from server to server (connect failures only, see docs). */
const NEXT_UPSTREAM_TIMEOUT = '10s';
/** /health's probe of one upstream: connect, then its /health answer. */
const PROBE_CONNECT_TIMEOUT = '1s';
const PROBE_READ_TIMEOUT = '2s';
/** njs reads request bodies from memory only, so the buffer is as large as the largest body. */
const MAX_BODY = '100m';

/** nginx's stub_status on the proxy's port. */
export const PROXY_STATUS_PATH = '/proxy_status';

const UPSTREAM = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/;

function fail(message: string): never {
  throw new Error(`proxy config: ${message}`);
}

/**
 * One nginx string. Inventory paths are quoted; `$` is refused because nginx expands variables
 * in some path directives and has no escape for it.
 */
function nginxString(value: string, field: string): string {
  if ([...value].some((c) => c === '$' || c.charCodeAt(0) < 0x20))
    fail(`${field} ${JSON.stringify(value)} contains "$" or a control character`);
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}

function dir(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

const TEMP_DIRECTIVES = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/** nginx's temp folders, in the run folder: created by run_proxy so cleanup knows they are ours. */
export function nginxTempDirs(runDir: string): string[] {
  return TEMP_DIRECTIVES.map((t) => `${dir(runDir)}/${t}_temp`);
}

/** Files nginx itself creates in the run folder. */
export function nginxRuntimeFiles(runDir: string): string[] {
  return [`${dir(runDir)}/nginx.pid`];
}

/** Checks every `host:port` of a role; refuses an empty list and duplicates. */
function checkServers(servers: string[], field: string): void {
  if (servers.length === 0) fail(`no ${field} server`);
  const seen = new Set<string>();
  for (const s of servers) {
    const m = UPSTREAM.exec(s);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      fail(`${field} server ${JSON.stringify(s)} is not host:port`);
    if (seen.has(s)) fail(`${field} server ${s} is listed twice`);
    seen.add(s);
  }
}

function checkDrained(spec: ProxyConfigSpec): Set<string> {
  const drained = new Set<string>();
  for (const s of spec.drained ?? []) {
    if (!spec.prefill.includes(s) && !spec.decode.includes(s))
      fail(`drained server ${JSON.stringify(s)} is neither a prefill nor a decode server`);
    if (drained.has(s)) fail(`drained server ${s} is listed twice`);
    drained.add(s);
  }
  return drained;
}

/** Shared memory for one group's balancer state (connection counts, failures): 64 KiB holds ~500 servers. */
const ZONE_SIZE = '64k';

function upstream(
  name: string,
  servers: string[],
  drained: Set<string>,
  balance: ProxyBalance = 'round_robin',
): string[] {
  return [
    `  upstream ${name} {`,
    ...(balance === 'least_conn'
      ? [
          // Each request goes to the server with the fewest requests in flight. The zone shares
          // the counts among nginx's worker processes: without it each worker counts only its own.
          `    zone ${name} ${ZONE_SIZE};`,
          '    least_conn;',
        ]
      : []),
    // Passive checks: one failed connection (refused, timed out) takes a server out for 5 s, then
    // one request tries it again. `down`: drained by a regenerated config.
    ...servers.map(
      (s) =>
        `    server ${s} max_fails=${MAX_FAILS} fail_timeout=${FAIL_TIMEOUT}${drained.has(s) ? ' down' : ''};`,
    ),
    '    keepalive 256;',
    '    keepalive_timeout 110s;',
    '    keepalive_requests 20000;',
    '  }',
  ];
}

/** One single-server group per probed upstream: probes share no failure state with traffic. */
function probeUpstreams(role: Role, servers: string[]): string[] {
  return servers.map((s, i) => `  upstream ${probeUpstreamName(role, i)} { server ${s}; }`);
}

function listen(spec: ProxyConfigSpec): string {
  const port = spec.listenPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`listen port ${port} is out of range`);
  if (spec.listenAddress === undefined) return `${port}`;
  if (!/^[0-9A-Za-z.:[\]-]+$/.test(spec.listenAddress))
    fail(`listen address ${JSON.stringify(spec.listenAddress)}`);
  return `${spec.listenAddress}:${port}`;
}

/**
 * The global proxy as stock nginx + njs: the PD routing of omniinfer's global_proxy.sh config
 * (completions through prefill then decode, other /v1 paths to prefill, X-Request-Id on both
 * legs) without its custom C modules. Deterministic: the same spec gives the same bytes, so a
 * changed hash means a reload is due.
 */
export function renderProxyConfig(spec: ProxyConfigSpec): ProxyConfig {
  const run = dir(spec.runDir);
  const log = dir(spec.logDir);
  const timeout = `${spec.requestTimeoutSeconds ?? DEFAULT_REQUEST_TIMEOUT_SECONDS}s`;
  const path = (p: string, field: string) => nginxString(p, field);
  checkServers(spec.prefill, 'prefill');
  checkServers(spec.decode, 'decode');
  const drained = checkDrained(spec);
  const serving = (servers: string[]) => servers.filter((s) => !drained.has(s));
  const listVar = (role: Role, which: 'probed' | 'drained', servers: string[]) =>
    `      set $${healthVar(role, which)} "${servers.join(' ')}";`;

  const lines = [
    '# omni-deploy global proxy (prefill/decode). Generated from the Plan; changes here are',
    '# overwritten on the next deploy. Apply a new version with `nginx -s reload`.',
    `load_module ${path(spec.jsModulePath ?? DEBIAN_JS_MODULE, 'jsModulePath')};`,
    ...(spec.foreground ? ['daemon off;'] : []),
    `worker_processes ${spec.workerProcesses ?? 'auto'};`,
    `pid ${path(nginxRuntimeFiles(run)[0]!, 'runDir')};`,
    `error_log ${path(`${log}/nginx_error.log`, 'logDir')} notice;`,
    '',
    'events {',
    '  worker_connections 4096;',
    '}',
    '',
    'http {',
    '  log_format pd \'$remote_addr [$time_local] "$request" $status $body_bytes_sent \'',
    "                'request_id=$pd_request_id upstream=$upstream_addr upstream_status=$upstream_status time=$request_time';",
    `  access_log ${path(`${log}/nginx_access.log`, 'logDir')} pd;`,
    '  # The prefill leg is a subrequest: logged, so the access log shows both legs of a request.',
    '  log_subrequest on;',
    ...TEMP_DIRECTIVES.map((t, i) => `  ${t}_temp_path ${path(nginxTempDirs(run)[i]!, 'runDir')};`),
    '',
    `  js_import pd from ${path(spec.njsPath, 'njsPath')};`,
    `  js_var $${DECODE_BODY_VAR};`,
    '',
    "  # The client's X-Request-Id, or nginx's random one: the same id reaches prefill, decode and",
    '  # the client, so a request can be followed through all three logs.',
    '  map $http_x_request_id $pd_request_id {',
    '    "" $request_id;',
    '    default $http_x_request_id;',
    '  }',
    '',
    '  tcp_nodelay on;',
    '  keepalive_requests 20000;',
    `  client_max_body_size ${MAX_BODY};`,
    `  client_body_buffer_size ${MAX_BODY};`,
    '  subrequest_output_buffer_size 1m;',
    '  proxy_http_version 1.1;',
    '  # Every proxy_set_header lives here: one inside a location would drop all inherited ones.',
    '  proxy_set_header Connection "";',
    '  proxy_set_header X-Request-Id $pd_request_id;',
    '  # njs parses the prefill answer, and streamed answers must pass chunk by chunk: no compression.',
    '  proxy_set_header Accept-Encoding "";',
    '  proxy_hide_header X-Request-Id;',
    `  proxy_connect_timeout ${CONNECT_TIMEOUT};`,
    `  proxy_read_timeout ${timeout};`,
    `  proxy_send_timeout ${timeout};`,
    '  # Failed connections move a request to the next server of its group (every server at most',
    '  # once). A completion (POST) that reached a server is never sent again: without',
    '  # non_idempotent, nginx retries it only while nothing was sent, and passes an answered',
    '  # 502/503 to the client as is.',
    '  proxy_next_upstream error timeout http_502 http_503;',
    `  proxy_next_upstream_timeout ${NEXT_UPSTREAM_TIMEOUT};`,
    '',
    ...upstream('prefill_servers', spec.prefill, drained, spec.balance?.prefill),
    '',
    ...upstream('decode_servers', spec.decode, drained, spec.balance?.decode),
    '',
    ...probeUpstreams('prefill', serving(spec.prefill)),
    ...probeUpstreams('decode', serving(spec.decode)),
    '',
    '  server {',
    `    listen ${listen(spec)} reuseport;`,
    '    add_header X-Request-Id $pd_request_id always;',
    '',
    '    # Asks each upstream in rotation for its own /health on every call (pd.health).',
    '    location = /health {',
    listVar('prefill', 'probed', serving(spec.prefill)),
    listVar(
      'prefill',
      'drained',
      spec.prefill.filter((s) => drained.has(s)),
    ),
    listVar('decode', 'probed', serving(spec.decode)),
    listVar(
      'decode',
      'drained',
      spec.decode.filter((s) => drained.has(s)),
    ),
    '      js_content pd.health;',
    '    }',
    '',
    '    # One probe: reachable only as a subrequest of pd.health, and only towards the probe groups',
    '    # above (a name that is no group fails: no resolver is configured).',
    `    location ~ ^${PROBE_LOCATION}/(?<pd_probe>(prefill|decode)_[0-9]+)$ {`,
    '      internal;',
    '      access_log off;',
    '      proxy_pass_request_headers off;',
    '      proxy_pass_request_body off;',
    '      proxy_next_upstream off;',
    `      proxy_connect_timeout ${PROBE_CONNECT_TIMEOUT};`,
    `      proxy_send_timeout ${PROBE_READ_TIMEOUT};`,
    `      proxy_read_timeout ${PROBE_READ_TIMEOUT};`,
    '      proxy_pass http://pd_probe_$pd_probe/health;',
    '    }',
    '',
    "    # nginx's own counters (connections, requests): `deploy top` shows the proxy's load.",
    `    location = ${PROXY_STATUS_PATH} {`,
    '      stub_status;',
    '      access_log off;',
    '    }',
    '',
    '    location ~ ^/v1(/chat)?/completions$ {',
    '      js_content pd.completions;',
    '    }',
    '',
    `    location ${PREFILL_LOCATION}/ {`,
    '      internal;',
    '      proxy_pass http://prefill_servers/;',
    '    }',
    '',
    `    location ${DECODE_LOCATION}/ {`,
    '      internal;',
    `      proxy_set_body $${DECODE_BODY_VAR};`,
    '      # Streamed answers go to the client chunk by chunk as the decode server sends them.',
    '      proxy_buffering off;',
    '      proxy_pass http://decode_servers/;',
    '    }',
    '',
    '    location /v1 {',
    '      proxy_buffering off;',
    '      proxy_pass http://prefill_servers;',
    '    }',
    '',
    '    location / {',
    '      default_type application/json;',
    `      return 404 '{"error":{"message":"not found: the proxy serves /v1 and /health","type":"proxy_error","code":404}}\\n';`,
    '    }',
    '  }',
    '}',
    '',
  ];
  return { nginxConf: lines.join('\n'), njs: PD_NJS };
}
