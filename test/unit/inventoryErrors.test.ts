import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { formatProblem, InventoryError, loadInventory } from '../../src/inventory';

const DIR = path.join(__dirname, '..', 'fixtures', 'inventories', 'invalid');

/** Problems of loading `file`, as `line:column: path: message` (the file name left out). */
function problemsOf(file: string, extraVars: Record<string, string> = {}): string[] {
  try {
    loadInventory(file, extraVars);
  } catch (err) {
    assert.ok(err instanceof InventoryError, `expected an InventoryError, got ${String(err)}`);
    return err.problems.map((p) => formatProblem(p).replace(`${file}:`, ''));
  }
  assert.fail(`${file} loaded without a problem`);
}

/** Broken YAML is kept as .txt so that formatters leave it broken. */
const fixtureFile = (name: string) =>
  ['.yml', '.txt'].map((ext) => path.join(DIR, name + ext)).find((f) => fs.existsSync(f))!;

/**
 * Each fixture is test/fixtures/inventories/base.yml with one defect (its first line says which).
 * The expected problems are complete: nothing more is reported, and loading never gets as far as
 * returning an inventory, so none of these reaches planning.
 */
const EXPECTED: Record<string, string[]> = {
  'address-out-of-range': [
    '43:25: all.children.D.hosts.d1.ansible_host: must be an IP address or a host name, got "10.0.0.300"',
  ],
  'bad-cluster-name': [
    '12:19: all.vars.cluster_name: must be a container name (letters, digits, "_", ".", "-"), got "my cluster"',
  ],
  'container-cli-typo': [
    '12:20: all.vars.container_cli: must be one of docker, podman, got "dokcer"; did you mean "docker"?',
  ],
  'decode-disagree': [
    "47:20: all.children.D.hosts.d1.host_ip: host_ip 10.0.0.4 disagrees with d0's 10.0.0.3: all D hosts form one decode instance and must name the same master",
  ],
  'decode-master-missing': [
    "40:20: all.children.D.hosts.d0.host_ip: host_ip 10.0.0.9 is no D host's ansible_host: the master of d0's instance is missing",
    "47:20: all.children.D.hosts.d1.host_ip: host_ip 10.0.0.9 is no D host's ansible_host: the master of d1's instance is missing",
  ],
  'decode-master-node-rank': [
    "37:22: all.children.D.hosts.d0.node_rank: d0 is its instance's master, so its node_rank must be 0, not 1",
  ],
  'decode-range-clash': [
    "46:21: all.children.D.hosts.d1.api_port: port clash on 10.0.0.2: d1's API server ports 8998-9001 and p1's api_port 9001",
  ],
  'devices-repeated': [
    '32:38: all.children.P.hosts.p1.ascend_rt_visible_devices: device 1 is listed more than once',
  ],
  'devices-trailing-comma': [
    '48:38: all.children.D.hosts.d1.ascend_rt_visible_devices: must be device ids separated by commas without spaces, like "0,1,2,3", got "0,1,2,"',
  ],
  'devices-with-spaces': [
    '24:38: all.children.P.hosts.p0.ascend_rt_visible_devices: must be device ids separated by commas without spaces, like "0,1,2,3", got "0, 1,2,3"',
  ],
  'host-in-two-groups': ['42:9: all.children.D.hosts.p1: host p1 is already in group P; a host has one role'],
  'host-ip-not-address': [
    '31:20: all.children.P.hosts.p1.host_ip: must be an IP address or a host name, got "not an ip!"',
  ],
  'host-name-with-slash': [
    '25:9: all.children.P.hosts.p/1: host name "p/1" becomes part of a container name: use letters, digits, "_", "." and "-"',
  ],
  'host-vars-not-map': ['51:13: all.children.C.hosts.c0: must be a map of host variables, got 5'],
  'kv-rank-duplicate': [
    '28:20: all.children.P.hosts.p1.kv_rank: kv_rank 0 is already used by the prefill instance of p0; each prefill instance needs its own',
  ],
  'kv-rank-gap': [
    '28:20: all.children.P.hosts.p1.kv_rank: kv_rank 2 leaves a gap: 2 prefill instances take kv_rank 0..1',
  ],
  'kv-rank-on-decode': ['42:20: all.children.D.hosts.d0.kv_rank: kv_rank does not apply to D hosts'],
  'lb-sdk-typo': [
    '12:21: all.vars.PREFILL_LB_SDK: must be one of pd_score_balance, weighted_least_active, greedy_timeout, prefill_score_balance, least_total_load, auto_balance_controller, length_balance, least_conn, round_robin, got "round_robbin"; did you mean "round_robin"?',
  ],
  'lowercase-group': [
    '14:3: all.children.P: group P (prefill) needs at least one host',
    '15:5: all.children.p: unknown group "p"; did you mean "P"? (groups are P for prefill, D for decode, C for the proxy)',
  ],
  'missing-ansible-host': [
    '25:9: all.children.P.hosts.p1.ansible_host: ansible_host is required (the address omni-deploy connects to)',
  ],
  'missing-auth': [
    '25:9: all.children.P.hosts.p1.ansible_ssh_private_key_file: set ansible_ssh_private_key_file or ansible_password to log in',
  ],
  'missing-host-ip-on-decode': [
    "42:9: all.children.D.hosts.d1.host_ip: host_ip is required (the decode master's address), or role M/S",
  ],
  'missing-kv-rank': [
    '25:9: all.children.P.hosts.p1.kv_rank: kv_rank is required (the index of its prefill instance)',
    '28:22: all.children.P.hosts.p1.node_port: \'kv_rank\' is undefined in "{{ global_port_base + port_offset.P + kv_rank }}"',
    '29:21: all.children.P.hosts.p1.api_port: \'kv_rank\' is undefined in "{{ base_api_port + port_offset.P + kv_rank }}"',
  ],
  'missing-model-path': [
    '3:3: all.vars.MODEL_PATH: MODEL_PATH is required: set it in all.vars or with -e (the seed asks the operator to set it)',
  ],
  'multinode-device-count': [
    '32:38: all.children.P.hosts.p1.ascend_rt_visible_devices: 2 devices, but its master p0 has 4: the hosts of one prefill instance use the same number of devices',
  ],
  'multinode-kv-rank-mismatch': [
    "28:20: all.children.P.hosts.p1.kv_rank: kv_rank 1 differs from p0's 0: the hosts of one prefill instance share its kv_rank",
  ],
  'negative-node-rank': ['53:22: all.children.C.hosts.c0.node_rank: must be an integer ≥ 0, got -1'],
  'no-proxy-group': ['14:3: all.children.C: group C (proxy) needs at least one host'],
  'placeholder-image': [
    "13:22: all.vars.DOCKER_IMAGE_ID: DOCKER_IMAGE_ID is still the seed's placeholder REPOSITORY:TAG: name the image to run",
  ],
  'port-out-of-range': [
    '29:22: all.children.P.hosts.p1.node_port: must be a port number (1-65535), got 70000',
  ],
  'prefill-master-missing': [
    "31:20: all.children.P.hosts.p1.host_ip: host_ip 10.0.0.9 is no P host's ansible_host: the master of p1's instance is missing",
  ],
  'proxy-port-clash': [
    "54:22: all.children.C.hosts.c0.node_port: port clash on 10.0.0.1: c0's node_port 8000 and p0's node_port 8000",
  ],
  'proxy-without-port': [
    '51:9: all.children.C.hosts.c0.node_port: node_port is required (the DP master port; on the proxy its listen port)',
  ],
  'relative-log-path': [
    '12:15: all.vars.LOG_PATH: path rule "absolute": must be an absolute path starting with "/", got "logs"',
  ],
  'role-bad-value': ['48:17: all.children.D.hosts.d1.role: must be one of M, S, got "slave"'],
  'role-no-master': [
    '41:17: all.children.D.hosts.d0.role: no D host has role "M": the master of d0\'s decode instance is missing',
    '48:17: all.children.D.hosts.d1.role: no D host has role "M": the master of d1\'s decode instance is missing',
  ],
  'role-two-masters': [
    '48:17: all.children.D.hosts.d1.role: d1 is a second decode master (d0 has role "M" too): all D hosts form one decode instance',
  ],
  'setting-in-host-vars': [
    '25:11: all.children.P.hosts.p0.LOG_PATH: LOG_PATH is a cluster-wide setting: set it in all.vars or with -e',
  ],
  'template-loop': ['56:15: all.children.C.hosts.c0._b: template loop: "_b" depends on itself'],
  'template-syntax': [
    '30:21: all.children.P.hosts.p1.api_port: cannot parse template "{{ base_api_port + }}": unexpected token: }}',
  ],
  'top-level-list': ['2:1: an inventory is a map with "all" at the top, got ["all","P"]'],
  'two-auths-on-host': [
    '25:29: all.children.P.hosts.p0.ansible_password: both ansible_password and ansible_ssh_private_key_file are set at the same level; keep one',
  ],
  'two-proxies': ['55:9: all.children.C.hosts.c1: group C has 2 hosts; omni-deploy runs one global proxy'],
  'undefined-template-var': [
    '21:22: all.children.P.hosts.p0.node_port: \'kv_rnak\' is undefined in "{{ global_port_base + kv_rnak }}"',
  ],
  'unknown-setting': ['12:5: all.vars.LOG_PAHT: unknown setting "LOG_PAHT"; did you mean "LOG_PATH"?'],
  'unknown-top-key': ['2:1: al: unknown key "al"; did you mean "all"?', '2:1: all: "all" is missing'],
  'yaml-syntax': ["24:46: YAML syntax: Missing closing 'quote"],
};

describe('malformed inventories', () => {
  it('base.yml itself is valid', () => {
    assert.equal(loadInventory(path.join(DIR, '..', 'base.yml')).hosts.length, 5);
  });

  it('has an expectation for every fixture and at least 30 of them', () => {
    const files = fs
      .readdirSync(DIR)
      .map((f) => f.replace(/\.(yml|txt)$/, ''))
      .sort();
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
    assert.ok(files.length >= 30);
  });

  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(name, () => {
      assert.deepEqual(problemsOf(fixtureFile(name)), expected);
    });
  }
});

describe('malformed extra vars', () => {
  const base = path.join(DIR, '..', 'base.yml');

  it('names an unknown -e key with a suggestion', () => {
    assert.deepEqual(problemsOf(base, { modle_path: '/m' }), [
      '-e modle_path: unknown setting "modle_path"; did you mean "MODEL_PATH"?',
    ]);
  });

  it('reports a bad -e value once per host that uses it', () => {
    assert.deepEqual(problemsOf(base, { kv_rank: 'x' }), [
      '-e kv_rank: host p0: must be an integer, got "x"',
      '-e kv_rank: host p1: must be an integer, got "x"',
    ]);
  });

  it("refuses a balancer module the default proxy cannot honour, and accepts it for omniinfer's own proxy", () => {
    assert.deepEqual(problemsOf(base, { DECODE_LB_SDK: 'length_balance' }), [
      "-e DECODE_LB_SDK: length_balance is one of omniinfer's own balancer modules, which the default proxy (proxy_mode: njs) cannot honour; use pd_score_balance, weighted_least_active, prefill_score_balance, least_total_load, least_conn, round_robin, or proxy_mode: seed to run omniinfer's proxy",
    ]);
    assert.equal(
      loadInventory(base, { DECODE_LB_SDK: 'length_balance', proxy_mode: 'seed' }).settings.DECODE_LB_SDK,
      'length_balance',
    );
  });

  it('refuses a password on the command line', () => {
    assert.deepEqual(problemsOf(base, { ansible_password: 'secret' }), [
      '-e ansible_password: passwords cannot come from the command line: set ansible_password in the inventory',
    ]);
  });

  it('reports every problem of a file at once, in file order', () => {
    assert.deepEqual(problemsOf(base, { DOCKER_IMAGE_ID: 'REPOSITORY:TAG', host_key_policy: 'accept_new' }), [
      `-e DOCKER_IMAGE_ID: DOCKER_IMAGE_ID is still the seed's placeholder REPOSITORY:TAG: name the image to run`,
      '-e host_key_policy: must be one of strict, accept-new, got "accept_new"; did you mean "accept-new"?',
    ]);
  });

  it('says when the file cannot be read', () => {
    assert.deepEqual(problemsOf(path.join(DIR, 'no-such-file.yml')), [
      '0:0: cannot read inventory: file not found',
    ]);
  });
});
