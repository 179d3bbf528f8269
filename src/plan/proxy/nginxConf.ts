import { DECODE_BODY_VAR, DECODE_LOCATION, PD_NJS, PREFILL_LOCATION } from './pdNjs';
import type { ProxyConfig, ProxyConfigSpec } from './types';

export const DEBIAN_JS_MODULE = '/usr/lib/nginx/modules/ngx_http_js_module.so';
const DEFAULT_REQUEST_TIMEOUT_SECONDS = 14400;
/** njs reads request bodies from memory only, so the buffer is as large as the largest body. */
const MAX_BODY = '100m';

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

function upstream(name: string, servers: string[], field: string): string[] {
  if (servers.length === 0) fail(`no ${field} server`);
  const seen = new Set<string>();
  const lines = servers.map((s) => {
    const m = UPSTREAM.exec(s);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      fail(`${field} server ${JSON.stringify(s)} is not host:port`);
    if (seen.has(s)) fail(`${field} server ${s} is listed twice`);
    seen.add(s);
    // Passive failover as in the seed: three failures take a server out for ten seconds.
    return `    server ${s} max_fails=3 fail_timeout=10s;`;
  });
  return [
    `  upstream ${name} {`,
    ...lines,
    '    keepalive 256;',
    '    keepalive_timeout 110s;',
    '    keepalive_requests 20000;',
    '  }',
  ];
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
  const health = JSON.stringify({
    status: 'ok',
    prefill_servers: spec.prefill.length,
    decode_servers: spec.decode.length,
  });

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
    '  proxy_connect_timeout 10s;',
    `  proxy_read_timeout ${timeout};`,
    `  proxy_send_timeout ${timeout};`,
    '',
    ...upstream('prefill_servers', spec.prefill, 'prefill'),
    '',
    ...upstream('decode_servers', spec.decode, 'decode'),
    '',
    '  server {',
    `    listen ${listen(spec)} reuseport;`,
    '    add_header X-Request-Id $pd_request_id always;',
    '',
    '    location = /health {',
    '      default_type application/json;',
    `      return 200 '${health}\\n';`,
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
