import { seconds } from './argv';

/**
 * HTTP requests made with curl on a host (the proxy's host: the request must come from where the
 * cluster's clients are). curl prints the status code on a line of its own after the body.
 */

const STATUS_LINE = '\n%{http_code}';

/** GET `url`; curl gives up after `timeoutMs`. */
export function httpGet(url: string, opts: { timeoutMs: number }): string[] {
  return ['curl', '-s', '--max-time', seconds(opts.timeoutMs), '-w', STATUS_LINE, '--', url];
}

/**
 * POST a JSON body read from stdin (it can be large and stays out of the process list) to `url`.
 * Header values must be single-line.
 */
export function postJson(
  url: string,
  opts: { timeoutMs: number; headers?: Readonly<Record<string, string>> },
): string[] {
  const headers = Object.entries({ 'Content-Type': 'application/json', ...opts.headers }).flatMap(
    ([name, value]) => {
      if (!/^[A-Za-z0-9-]+$/.test(name) || /[\r\n]/.test(value)) {
        throw new RangeError(`not a single-line HTTP header: ${JSON.stringify(`${name}: ${value}`)}`);
      }
      return ['-H', `${name}: ${value}`];
    },
  );
  return [
    'curl',
    '-s',
    '--max-time',
    seconds(opts.timeoutMs),
    '-w',
    STATUS_LINE,
    ...headers,
    '--data-binary',
    '@-',
    '--',
    url,
  ];
}

export interface HttpAnswer {
  /** The status code; `000` when nothing answered, '' when curl printed nothing at all. */
  status: string;
  body: string;
}

/** The body and status of what httpGet/postJson printed. */
export function parseHttpAnswer(stdout: string): HttpAnswer {
  const cut = stdout.lastIndexOf('\n');
  if (cut < 0) return { status: stdout.trim(), body: '' };
  return { status: stdout.slice(cut + 1).trim(), body: stdout.slice(0, cut) };
}
