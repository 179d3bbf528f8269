import { absolutePath, outputLines, seconds } from './argv';

/** OpenAI API servers (engines) seen from their host: readiness, and what a failed one logged. */

/**
 * Prints `<port> ready` for each port whose `/health` answers 200 and whose `/v1/models` names
 * the model, `<port> waiting` for the others. Each request gives up after `requestTimeoutMs`, so
 * one round takes at most two of those per port.
 */
export function probeApiServers(opts: {
  address: string;
  model: string;
  ports: readonly number[];
  requestTimeoutMs: number;
}): string[] {
  for (const port of opts.ports) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`not a port: ${port}`);
  }
  return [
    'sh',
    '-c',
    PROBE,
    'probe',
    opts.address,
    opts.model,
    seconds(opts.requestTimeoutMs),
    ...opts.ports.map(String),
  ];
}

// The model is matched as a JSON string ("id": "<model>"), so `deep` does not pass for `deepseek`.
const PROBE = `addr=$1; model=$2; t=$3; shift 3
for port; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time "$t" "http://$addr:$port/health")
  if [ "$code" = 200 ] && curl -s --max-time "$t" "http://$addr:$port/v1/models" | grep -qF -e "\\"$model\\""; then
    echo "$port ready"
  else
    echo "$port waiting"
  fi
done`;

/** The ports probeApiServers found ready. */
export function parseReadyPorts(stdout: string): Set<number> {
  const ready = new Set<number>();
  for (const line of outputLines(stdout)) {
    const m = /^(\d+) ready$/.exec(line.trim());
    if (m) ready.add(Number(m[1]));
  }
  return ready;
}

/**
 * The last `lines` lines of a log from its last line starting with `marker` on (all of it when no
 * line does): a server's log is appended to across starts, and an operator reading an earlier
 * start's errors as the cause of this one is misled.
 */
export function logSinceLastStart(log: string, marker: string, lines = 20): string[] {
  if (!Number.isInteger(lines) || lines < 1) throw new RangeError(`not a line count: ${lines}`);
  return [
    'sh',
    '-c',
    // Read backwards up to the marker (a log may be large), compared as a plain string: sed
    // would read it as a regular expression.
    'tac -- "$1" | m=$2 awk \'{ print } index($0, ENVIRON["m"]) == 1 { exit }\' | tac | tail -n "$3"',
    'log-since-start',
    absolutePath(log, 'the log'),
    marker,
    String(lines),
  ];
}
