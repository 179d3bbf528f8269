import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { inventoryAddresses, loadInventory, parseExtraVarValue } from '../../src/inventory';
import { planFromFile } from '../../src/client/planFile';

const ROOT = path.join(__dirname, '..', '..');
const fixture = (name: string) => path.join(ROOT, 'test', 'fixtures', 'inventories', name);
const PRECEDENCE = fixture('precedence.yml');

const hostOf = (inv: ReturnType<typeof loadInventory>, name: string) =>
  inv.hosts.find((h) => h.name === name)!;

describe('inventory variables', () => {
  it('renders the seed port templates to numbers, as Ansible does', () => {
    const inv = loadInventory(path.join(ROOT, 'inventories', '2P1D.yml'));
    assert.deepEqual(
      inv.hosts.map((h) => [h.name, h.nodePort, h.apiPort]),
      [
        ['p0', 8000, 9000],
        ['p1', 8001, 9001],
        ['d0', 8100, 9100],
        ['d1', 8100, 9101],
        ['c0', 7000, null],
      ],
    );
  });

  it('resolves host > group > all, templates in the using host’s context', () => {
    const inv = loadInventory(PRECEDENCE);
    // node_port is a P group template over _base: p0 sees the group's 2000, p1 its own 3000.
    assert.deepEqual([hostOf(inv, 'p0').nodePort, hostOf(inv, 'p1').nodePort], [2000, 3001]);
    assert.deepEqual([hostOf(inv, 'p0').user, hostOf(inv, 'p1').user], ['root', 'admin']);
    assert.deepEqual([hostOf(inv, 'p0').sshPort, hostOf(inv, 'p1').sshPort], [22, 2222]);
    assert.equal(hostOf(inv, 'p1').hostIp, '10.0.0.2');
    assert.equal(inv.settings.LOG_PATH, '/srv/omni/logs');
  });

  it('gives -e the last word, over host vars and settings', () => {
    const inv = loadInventory(PRECEDENCE, {
      _base: '4000',
      LOG_PATH: '/var/log/omni',
      MODEL_LEN_MAX_DECODE: '8192',
    });
    assert.deepEqual([hostOf(inv, 'p0').nodePort, hostOf(inv, 'p1').nodePort], [4000, 4001]);
    assert.equal(inv.settings.LOG_PATH, '/var/log/omni');
    assert.equal(inv.settings.MODEL_LEN_MAX_DECODE, 8192);
  });

  it('reads -e values as YAML scalars and flow collections', () => {
    assert.equal(parseExtraVarValue('8000'), 8000);
    assert.equal(parseExtraVarValue('true'), true);
    assert.equal(parseExtraVarValue('repo/img:1.0'), 'repo/img:1.0');
    assert.deepEqual(parseExtraVarValue('[/dev/a, /dev/b]'), ['/dev/a', '/dev/b']);
    assert.deepEqual(parseExtraVarValue('{A: 1}'), { A: 1 });
    const inv = loadInventory(PRECEDENCE, {
      container_devices: '[/dev/davinci0]',
      container_env: '{TZ: UTC}',
    });
    assert.deepEqual(inv.settings.container_devices, ['/dev/davinci0']);
    assert.deepEqual(inv.settings.container_env, { TZ: 'UTC' });
  });

  it('offers hostvars, groups and inventory_hostname to templates', () => {
    const inv = loadInventory(PRECEDENCE);
    assert.equal(hostOf(inv, 'd0').hostIp, 'dec0.cluster.local');
    assert.equal(hostOf(inv, 'c0').nodePort, 2001);
  });

  it('applies the seed defaults and derives the rest', () => {
    const s = loadInventory(PRECEDENCE).settings;
    assert.deepEqual(
      [
        s.MODEL_LEN_MAX_PREFILL,
        s.MODEL_LEN_MAX_DECODE,
        s.SCRIPTS_PATH,
        s.ranktable_save_path,
        s.DECODE_TENSOR_PARALLEL_SIZE,
      ],
      [32000, 16384, '/tmp/scripts_path', '/tmp/ranktable_save_path', 1],
    );
    assert.deepEqual(
      [s.cluster_name, s.LOCAL_CODE_PATH, s.proxy_image],
      ['precedence', s.CODE_PATH, s.DOCKER_IMAGE_ID],
    );
    assert.deepEqual(
      [s.container_cli, s.host_key_policy, s.served_model_name],
      ['docker', 'strict', 'deepseek'],
    );
    assert.equal(s.decode_env.HCCL_BUFFSIZE, '1000');
  });

  it('keeps passwords out of the plan, referring to the inventory host instead', () => {
    const p = planFromFile(PRECEDENCE);
    assert.deepEqual(p.hosts.find((h) => h.name === 'p0')!.ssh.auth, {
      method: 'password',
      password: { inventoryFile: PRECEDENCE, inventoryHost: 'p0' },
    });
    // p1's own key file outranks the all-level password.
    assert.deepEqual(p.hosts.find((h) => h.name === 'p1')!.ssh.auth, {
      method: 'key',
      keyFile: '~/.ssh/p1',
    });
    assert.ok(!JSON.stringify(p).includes('from-all'));
  });

  it('lists the addresses of an inventory for the simulator', () => {
    assert.deepEqual(inventoryAddresses(PRECEDENCE), ['10.0.0.1', '10.0.0.2', 'dec0.cluster.local']);
    assert.deepEqual(inventoryAddresses(path.join(ROOT, 'inventories', '4P1D.yml')), [
      '127.0.0.1',
      '127.0.0.2',
      '127.0.0.3',
      '127.0.0.4',
      '127.0.0.5',
      '127.0.0.6',
      '127.0.0.7',
      '127.0.0.8',
    ]);
  });
});
