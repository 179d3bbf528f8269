/**
 * Generated inventories of production size in the seed's style (its templates on every host):
 * `prefillInstances` instances of `hostsPerPrefill` hosts, one decode instance over `decodeHosts`
 * hosts, a proxy on the first prefill machine. Used by tests and benchmarks of large clusters.
 */
export interface BigLayout {
  prefillInstances: number;
  hostsPerPrefill: number;
  decodeHosts: number;
  devices: number;
}

/** Distinct addresses for up to 16 M hosts: 10.x.y.(1-254). */
export const bigAddress = (i: number) =>
  `10.${Math.floor(i / 65024) % 256}.${Math.floor(i / 254) % 256}.${(i % 254) + 1}`;

export function bigInventory(layout: BigLayout): string {
  const devices = Array.from({ length: layout.devices }, (_, i) => i).join(',');
  const lines = [
    'all:',
    '  vars:',
    '    ansible_user: root',
    '    ansible_ssh_private_key_file: /keys/id_ed25519',
    '    global_port_base: 8000',
    '    base_api_port: 9000',
    '    proxy_port: 7000',
    '    port_offset: { P: 0, D: 100 }',
    '    MODEL_PATH: /data/models/m',
    '    DOCKER_IMAGE_ID: registry.local/omniinfer:bench',
    `    ascend_rt_visible_devices: '${devices}'`,
    '  children:',
    '    P:',
    '      vars:',
    "        node_port: '{{ global_port_base + port_offset.P + kv_rank }}'",
    "        api_port: '{{ base_api_port + port_offset.P + kv_rank }}'",
    '      hosts:',
  ];
  let n = 0;
  for (let kv = 0; kv < layout.prefillInstances; kv++) {
    const master = bigAddress(n);
    for (let rank = 0; rank < layout.hostsPerPrefill; rank++) {
      lines.push(
        `        p${kv}_${rank}:`,
        `          ansible_host: ${bigAddress(n++)}`,
        `          node_rank: ${rank}`,
        `          kv_rank: ${kv}`,
        `          host_ip: ${master}`,
      );
    }
  }
  lines.push(
    '    D:',
    '      vars:',
    "        node_port: '{{ global_port_base + port_offset.D }}'",
    "        api_port: '{{ base_api_port + port_offset.D + node_rank }}'",
    '      hosts:',
  );
  const decodeMaster = bigAddress(n);
  for (let d = 0; d < layout.decodeHosts; d++) {
    lines.push(
      `        d${d}:`,
      `          ansible_host: ${bigAddress(n++)}`,
      `          node_rank: ${d}`,
      `          host_ip: ${decodeMaster}`,
    );
  }
  lines.push(
    '    C:',
    '      hosts:',
    '        c0:',
    `          ansible_host: ${bigAddress(0)}`,
    "          node_port: '{{ proxy_port }}'",
  );
  return `${lines.join('\n')}\n`;
}
