import type { ProxyBalance } from '../../shared/proxyBalance';

/**
 * What the global proxy generator needs: the listen port, the upstream API servers and where
 * things live on the proxy host. Narrow and JSON-serialisable; the Plan's ProxySpec maps to it.
 */
export interface ProxyConfigSpec {
  listenPort: number;
  /** Bind only this address (default: all addresses). */
  listenAddress?: string;
  /** One `host:port` per prefill instance (its master's API server). */
  prefill: string[];
  /** Every decode API server, `host:port`. */
  decode: string[];
  /**
   * Upstreams (entries of `prefill` or `decode`) taken out of rotation: they stay in the config
   * with nginx's `down` parameter, are not probed, and `/health` lists them as drained. A changed
   * list changes the output and the hash, so draining or re-adding a server is a regenerate and
   * `nginx -s reload`.
   */
  drained?: string[];
  /** nginx_error.log and nginx_access.log. */
  logDir: string;
  /** nginx.pid and nginx's temp folders. */
  runDir: string;
  /** Where the njs module (the `njs` output) is written on the proxy host. */
  njsPath: string;
  /** Longest a completion may take upstream (default 14400 s, the seed's proxy_read_timeout). */
  requestTimeoutSeconds?: number;
  /** Default: Debian's `/usr/lib/nginx/modules/ngx_http_js_module.so`. */
  jsModulePath?: string;
  /**
   * How each group picks a server (default round-robin, nginx's own default): `least_conn` sends a
   * request to the server with the fewest in flight, the default proxy's reading of omniinfer's
   * load-aware PREFILL_LB_SDK / DECODE_LB_SDK modules (src/inventory/balance.ts).
   */
  balance?: { prefill: ProxyBalance; decode: ProxyBalance };
  /** `daemon off`, for a proxy that is the container's main process or a test's child. */
  foreground?: boolean;
  /** Default `auto`. */
  workerProcesses?: number;
}

export interface ProxyConfig {
  nginxConf: string;
  njs: string;
}
