/**
 * Every time bound of the host activities, named by what it bounds (milliseconds). A bound on a
 * remote command kills it on the host when it runs longer (CommandTimeoutError, which the
 * workflow retries); a request bound makes curl give up on one HTTP request. These catch a host
 * that hangs; a worker that dies is noticed by the workflow's heartbeat timeout instead.
 */
export const TIMEOUTS = {
  /** Preflight's `true` over SSH: a login and a trivial command. */
  sshCheck: 30_000,
  /**
   * A command that answers at once unless the host is in trouble: reading a small file, testing
   * one, removing a few, `kill -0` of some PIDs, listing sockets, a grep of the access log.
   */
  quickCommand: 30_000,
  /** `mkdir -p` of working folders: slow only on a hung network filesystem. */
  makeFolders: 60_000,
  /** One ownership-manifest script (claim folders, record files, remove, clean up) under its flock. */
  ownershipManifest: 60_000,
  /** One preflight probe on the host: its address, the model folder, device nodes, free space. */
  preflightProbe: 60_000,
  /** `docker pull`: gigabytes from a registry. */
  imagePull: 30 * 60_000,
  /** `docker run` of an image already there: create and start the container. */
  containerRun: 5 * 60_000,
  /** A host-to-host copy of the code tree (a relay's rsync): gigabytes at worst. */
  codeCopy: 60 * 60_000,
  /** The in-container install step of sync_code (a pip install of the synced code). */
  codeInstall: 60 * 60_000,
  /** A stop script: TERM to each recorded process group, a grace period, then KILL. */
  stopScript: 5 * 60_000,
  /**
   * A launch script: starts the servers in the background and returns; on a multi-node prefill
   * host it also waits for the Ray group (bounded itself by ray_join_timeout).
   */
  launchScript: 10 * 60_000,
  /** One readiness round over a host's API servers (two requests per server at most). */
  readinessRound: 60_000,
  /** One `/health` or `/v1/models` request of a readiness round. */
  readinessRequest: 3_000,
  /** Between readiness rounds, unless the input says otherwise (pollMs). */
  readinessPoll: 1_000,
  /** `hccn_tool -ip -g` of one device. */
  deviceIpQuery: 60_000,
  /** Listing the ranktable folder for files of an earlier layout. */
  ranktableListing: 60_000,
  /** `nginx -t`, start or reload in the proxy container. */
  nginxCommand: 60_000,
  /** omniinfer's global_proxy.sh (seed mode): rewrites its nginx.conf and restarts nginx. */
  seedProxyScript: 5 * 60_000,
  /**
   * One request to the proxy's health URL. The generated proxy's /health asks every upstream at
   * once, each probe bounded by 1 s to connect and 2 s to answer.
   */
  proxyHealthRequest: 5_000,
  /** Between health requests; the proxy gets proxyHealthAttempts of them to answer 200 (≥ 30 s). */
  proxyHealthPoll: 500,
  /** The verify completion through the proxy: a prefill, then 8 decoded tokens, on a cold cluster. */
  verifyRequest: 120_000,
  /** The verify command around that request: SSH, curl's start, the request. */
  verifyCommand: 150_000,
  /** Between heartbeats of a running activity (cancellation arrives with a heartbeat's answer). */
  heartbeat: 1_000,
} as const;

/** Health requests the proxy gets after a start or reload before it counts as not ready. */
export const PROXY_HEALTH_ATTEMPTS = 60;
