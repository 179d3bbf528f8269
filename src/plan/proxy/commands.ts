/** Where nginx runs from on the proxy host: `-p` prefix and `-c` config file. */
export interface NginxPaths {
  confPath: string;
  prefixDir: string;
  /** Default `nginx` on PATH. */
  binary?: string;
}

/**
 * The nginx command lines (argv, to be shell-quoted by the caller) that go with a generated
 * config. `reload` and `quit` reach the running master through the pid file named in the config.
 */
export function nginxCommands(p: NginxPaths): Record<'test' | 'start' | 'reload' | 'quit', string[]> {
  const base = [p.binary ?? 'nginx', '-p', p.prefixDir, '-c', p.confPath];
  return {
    test: [...base, '-t'],
    start: base,
    reload: [...base, '-s', 'reload'],
    quit: [...base, '-s', 'quit'],
  };
}
