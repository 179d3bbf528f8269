/**
 * Plans a generated 512-host inventory (128 two-host prefill instances, one decode instance over
 * 255 hosts, one proxy), the seed's templates on every host, and prints how long it takes.
 * Target: well under one second.  Run: npm run bench:plan
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { buildPlan } from '../src/plan';
import { loadInventory } from '../src/inventory';

const PREFILL_INSTANCES = 128;
const DECODE_HOSTS = 255;
const DEVICES = Array.from({ length: 16 }, (_, i) => i).join(',');

const address = (i: number) => `10.${Math.floor(i / 65536)}.${Math.floor(i / 254) % 256}.${(i % 254) + 1}`;

function generateInventory(): string {
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
    `    ascend_rt_visible_devices: '${DEVICES}'`,
    '  children:',
    '    P:',
    '      vars:',
    "        node_port: '{{ global_port_base + port_offset.P + kv_rank }}'",
    "        api_port: '{{ base_api_port + port_offset.P + kv_rank }}'",
    '      hosts:',
  ];
  let n = 0;
  for (let kv = 0; kv < PREFILL_INSTANCES; kv++) {
    const master = address(n);
    for (let rank = 0; rank < 2; rank++) {
      lines.push(
        `        p${kv}_${rank}:`,
        `          ansible_host: ${address(n++)}`,
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
  const decodeMaster = address(n);
  for (let d = 0; d < DECODE_HOSTS; d++) {
    lines.push(
      `        d${d}:`,
      `          ansible_host: ${address(n++)}`,
      `          node_rank: ${d}`,
      `          host_ip: ${decodeMaster}`,
    );
  }
  lines.push(
    '    C:',
    '      hosts:',
    '        c0:',
    `          ansible_host: ${address(0)}`,
    "          node_port: '{{ proxy_port }}'",
  );
  return `${lines.join('\n')}\n`;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-deploy-bench-'));
const file = path.join(dir, 'bench-512.yml');
fs.writeFileSync(file, generateInventory());
try {
  const runs: number[] = [];
  let hosts = 0;
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    const plan = buildPlan(loadInventory(file));
    runs.push(performance.now() - t0);
    hosts = plan.hosts.length;
  }
  const [first, ...warm] = runs;
  warm.sort((a, b) => a - b);
  console.log(
    `planned ${hosts} hosts: first run ${first!.toFixed(0)} ms (cold: template compilation, JIT), ` +
      `then median ${warm[Math.floor(warm.length / 2)]!.toFixed(0)} ms, best ${warm[0]!.toFixed(0)} ms`,
  );
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
