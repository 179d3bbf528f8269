/**
 * A file path as OpenSSH reads it in a config line or an `-o Key=value` option: ssh splits such
 * values at whitespace (UserKnownHostsFile takes several files), honours double quotes with
 * backslash escapes inside, and expands `%` tokens in file names. So a path with a space (a checkout
 * under "/srv/my tools") is quoted, and `%` is doubled; other paths stay as they are, readable.
 */
export function sshConfigPath(path: string): string {
  const escaped = path.replace(/%/g, '%%');
  if (!/[\s"'\\#]/.test(escaped)) return escaped;
  return `"${escaped.replace(/[\\"]/g, '\\$&')}"`;
}
