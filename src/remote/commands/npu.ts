/** Ascend NPU tools, run inside the host's container (the seed bind-mounts them there). */

/** `hccn_tool`'s IP of one device; its output is parsed by the pure ranktable code. */
export function deviceIp(device: number): string[] {
  if (!Number.isInteger(device) || device < 0) throw new RangeError(`not a device id: ${device}`);
  return ['hccn_tool', '-i', String(device), '-ip', '-g'];
}

const MARK = '@@omni-deploy-device';

/**
 * `hccn_tool`'s IP of every device in one command: a container exec per device is a container
 * CLI start each (16 per host on a real NPU host). Each device's output is framed by marker lines
 * with its exit status; parseDeviceIps splits them.
 */
export function deviceIps(devices: readonly number[]): string[] {
  for (const d of devices) deviceIp(d);
  return [
    'sh',
    '-c',
    `for d; do o=$(hccn_tool -i "$d" -ip -g 2>&1); c=$?; printf '${MARK} %s %s\\n%s\\n' "$d" "$c" "$o"; done`,
    'device-ips',
    ...devices.map(String),
  ];
}

/** Per device of deviceIps: its exit status and output (stdout and stderr), in order. */
export function parseDeviceIps(stdout: string): { device: number; code: number; output: string }[] {
  const out: { device: number; code: number; output: string }[] = [];
  for (const line of stdout.split('\n')) {
    const m = new RegExp(`^${MARK} (\\d+) (\\d+)$`).exec(line);
    if (m) out.push({ device: Number(m[1]), code: Number(m[2]), output: '' });
    else if (out.length > 0) out[out.length - 1]!.output += `${line}\n`;
  }
  for (const o of out) o.output = o.output.replace(/\n+$/, '\n');
  return out;
}
