/**
 * Inventory variants for tests of changes to a running cluster: the sim-2P1D text (any instance's
 * copy) with a third single-host prefill instance p2 at `<subnet>.15`.
 */
export function withThirdPrefill(sim2p1d: string, subnet: string): string {
  const p2 = [
    '        p2:',
    `          ansible_host: '${subnet}.15'`,
    '          node_rank: 0',
    '          kv_rank: 2',
    "          node_port: '{{ global_port_base + port_offset.P + kv_rank }}'",
    "          api_port: '{{ base_api_port + port_offset.P + kv_rank }}'",
    `          host_ip: '${subnet}.15'`,
    "          ascend_rt_visible_devices: '0,1'",
    '',
  ].join('\n');
  const at = sim2p1d.indexOf('    D:\n');
  if (at < 0) throw new Error('not a sim-2P1D inventory: no D group');
  return `${sim2p1d.slice(0, at)}${p2}${sim2p1d.slice(at)}`;
}
