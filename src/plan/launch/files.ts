/** Where the launch and stop scripts put things on the target, so callers and scripts agree. */

export const MANIFEST_FILE = 'servers.json';

/** First line a server's start appends to its (appended-to) log: where this start's output begins. */
export const SERVER_START_MARKER = '=== omni-deploy: starting';

/** `/a/b/` and `/a/b` name the same folder; scripts and manifest spell it one way. */
export function trimDir(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') : dir;
}

function join(dir: string, name: string): string {
  return `${trimDir(dir)}/${name}`;
}

export function serverLogFile(logDir: string, rank: number): string {
  return join(logDir, `server_${rank}.log`);
}

export function serverPidFile(runDir: string, rank: number): string {
  return join(runDir, `server_${rank}.pid`);
}

export function manifestFile(runDir: string): string {
  return join(runDir, MANIFEST_FILE);
}

/** Output of the Ray commands on a multi-node prefill host. */
export function rayLogFile(logDir: string): string {
  return join(logDir, 'ray.log');
}

/**
 * Every file the launch script of a host with `servers` API servers creates in its run folder
 * (pid files, the manifest and its temporary name): recorded as the tool's before it runs, so
 * cleanup removes them (src/remote/ownership.ts).
 */
export function launchRuntimeFiles(runDir: string, servers: number): string[] {
  return [
    ...Array.from({ length: servers }, (_, rank) => serverPidFile(runDir, rank)),
    manifestFile(runDir),
    `${manifestFile(runDir)}.tmp`,
  ];
}
