import { absolutePath, outputLines } from './argv';

/** The global proxy's access log (the `log_format` of src/plan/proxy/nginxConf.ts). */

/** The access log lines of one request, found by its `request_id=<id>` field. */
export function requestLogLines(accessLog: string, requestId: string): string[] {
  // grep reads each line of a pattern as a pattern of its own.
  if (/[\r\n]/.test(requestId) || requestId === '') {
    throw new RangeError(`a request id is one non-empty line, got ${JSON.stringify(requestId)}`);
  }
  return ['grep', '-F', '-e', `request_id=${requestId}`, '--', absolutePath(accessLog, 'the access log')];
}

/**
 * Every upstream the lines name, in order: `upstream=$upstream_addr`, which lists each server
 * nginx tried (`10.0.0.1:9000, 10.0.0.2:9000` after a failover).
 */
export function parseUpstreams(lines: string): string[] {
  return outputLines(lines).flatMap((line) =>
    [...line.matchAll(/upstream=([^ ,]+(?:, [^ ,]+)*)/g)].flatMap((m) => m[1]!.split(', ')),
  );
}
