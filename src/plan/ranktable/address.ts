const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);

/**
 * Dotted-quad IPv4 only: omniinfer's global merge script finds a multi-host instance's folder by
 * extracting the first IPv4 from a file name, and HCCL addresses devices by IPv4.
 */
export function isIPv4(value: string): boolean {
  return IPV4.test(value);
}
