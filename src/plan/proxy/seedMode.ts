import { shellJoin, shellQuote } from '../../shared/shellQuote';

/** What the seed's run_proxy_server.sh passes to omniinfer's global_proxy.sh (§3.6, §6.5). */
export interface SeedProxySpec {
  listenPort: number;
  /** One per prefill instance (PREFILL_API_SERVER_LIST). */
  prefill: string[];
  /** Every decode API server, already expanded from the seed's `ip:port@N` form. */
  decode: string[];
  /** CODE_PATH: the omniinfer checkout is `<codePath>/omniinfer` in the container. */
  codePath: string;
  logDir: string;
  prefillLbSdk: string;
  decodeLbSdk: string;
  /** HTTP_PROXY for the container (the seed exports it as http_proxy/https_proxy). */
  httpProxy: string;
}

/**
 * Seed mode of the global proxy: the seed's generated run_proxy_server.sh, minus the nginx
 * download-and-build (the later upstream template moved that out too; the image must carry
 * omniinfer's nginx build). global_proxy.sh writes nginx.conf with omniinfer's C modules
 * (prefill, set_request_id, the LB SDKs), stops any running nginx and starts it again.
 */
export function renderSeedProxyScript(spec: SeedProxySpec): string {
  const args = [
    'bash',
    'global_proxy.sh',
    '--listen-port',
    String(spec.listenPort),
    '--prefill-servers-list',
    spec.prefill.join(','),
    '--decode-servers-list',
    spec.decode.join(','),
    '--log-file',
    `${spec.logDir}/nginx_error.log`,
    '--log-level',
    'notice',
    '--core-num',
    '4',
    '--start-core-index',
    '16',
    '--prefill-lb-sdk',
    spec.prefillLbSdk,
    '--decode-lb-sdk',
    spec.decodeLbSdk,
  ];
  return [
    '#!/bin/bash',
    "# omni-deploy run_proxy (seed mode): omniinfer's own global proxy, as the seed's",
    '# run_proxy_server.sh starts it. Generated from the Plan; overwritten on the next deploy.',
    'set -euo pipefail',
    ...(spec.httpProxy
      ? [`export http_proxy=${shellQuote(spec.httpProxy)} https_proxy=${shellQuote(spec.httpProxy)}`]
      : []),
    `export PREFILL_LB_SDK=${shellQuote(spec.prefillLbSdk)} DECODE_LB_SDK=${shellQuote(spec.decodeLbSdk)}`,
    `mkdir -p ${shellQuote(spec.logDir)}`,
    `cd ${shellQuote(`${spec.codePath}/omniinfer/tools/scripts`)}`,
    shellJoin(args),
    '',
  ].join('\n');
}
