/** Ascend NPU tools, run inside the host's container (the seed bind-mounts them there). */

/** `hccn_tool`'s IP of one device; its output is parsed by the pure ranktable code. */
export function deviceIp(device: number): string[] {
  if (!Number.isInteger(device) || device < 0) throw new RangeError(`not a device id: ${device}`);
  return ['hccn_tool', '-i', String(device), '-ip', '-g'];
}
