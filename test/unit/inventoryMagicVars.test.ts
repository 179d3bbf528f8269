import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { planFromFile } from '../../src/client/planFile';
import { inventoryPassword } from '../../src/inventory/password';

const SEED = fs.readFileSync(path.join(__dirname, '..', '..', 'inventories', '2P1D.yml'), 'utf8');

function writeInventory(text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-inv-'));
  const file = path.join(dir, 'cluster.yml');
  fs.writeFileSync(file, text);
  return file;
}

describe('inventory magic variables and secrets', () => {
  it('inventory_dir names files beside the inventory, wherever the checkout is', () => {
    const file = writeInventory(
      SEED.replace(
        /ansible_ssh_private_key_file: .*/,
        `ansible_ssh_private_key_file: '{{ inventory_dir }}/keys/id_ed25519'`,
      ),
    );
    const plan = planFromFile(file);
    const auth = plan.hosts[0]!.ssh.auth;
    assert.deepEqual(auth, {
      method: 'key',
      keyFile: path.join(path.dirname(file), 'keys/id_ed25519'),
    });
  });

  it('a password is resolved for the worker with host precedence, and never lands in the plan', () => {
    const text = SEED.replace(
      / *ansible_ssh_private_key_file: .*\n/,
      `    ansible_password: 'hunter2-all'\n`,
    ).replace(/(\n {8}p1:\n)/, `$1          ansible_password: 'hunter2-{{ inventory_hostname }}'\n`);
    const file = writeInventory(text);
    const plan = planFromFile(file);
    assert.deepEqual(plan.hosts.find((h) => h.name === 'p1')!.ssh.auth, {
      method: 'password',
      password: { inventoryFile: file, inventoryHost: 'p1' },
    });
    assert.ok(!JSON.stringify(plan).includes('hunter2'), 'no password in the plan');
    assert.equal(inventoryPassword(file, 'p0'), 'hunter2-all');
    assert.equal(inventoryPassword(file, 'p1'), 'hunter2-p1');
  });
});
