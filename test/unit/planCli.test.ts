import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { runDeploy } from '../helpers/cli';
import { assertGolden } from '../helpers/golden';

const ROOT = path.join(__dirname, '..', '..');
const NO_COLOR = { NO_COLOR: '1' };

describe('deploy plan', () => {
  it('prints the tables of the seed 2P1D layout', async () => {
    const r = await runDeploy(['plan', '--inventory', path.join(ROOT, 'inventories', '2P1D.yml')], NO_COLOR);
    assert.equal(r.code, 0, r.stderr);
    assertGolden('plan/2P1D-tables.txt', r.stdout.replaceAll(ROOT, '<repo>'));
  });

  it('prints stable JSON with -e overrides applied', async () => {
    const args = ['plan', '-i', path.join(ROOT, 'inventories', '4P1D.yml'), '--json'];
    const r = await runDeploy(
      [...args, '-e', 'MODEL_LEN_MAX_DECODE=8192', '-e', 'cluster_name=prod'],
      NO_COLOR,
    );
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.equal(plan.cluster, 'prod');
    assert.equal(plan.decode[0].engine.maxModelLen, 8192);
    assert.equal(plan.hosts.length, 9);
    const again = await runDeploy(
      [...args, '-e', 'MODEL_LEN_MAX_DECODE=8192', '-e', 'cluster_name=prod'],
      NO_COLOR,
    );
    assert.equal(again.stdout, r.stdout);
  });

  it('exits non-zero with every located problem of a bad inventory', async () => {
    const file = path.join(ROOT, 'test', 'fixtures', 'inventories', 'invalid', 'missing-kv-rank.yml');
    const r = await runDeploy(['plan', '-i', file, '-e', 'contaner_cli=podman'], NO_COLOR);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      [
        `${file}: 4 problems`,
        '  -e contaner_cli: unknown setting "contaner_cli"; did you mean "container_cli"?',
        `  ${file}:25:9: all.children.P.hosts.p1.kv_rank: kv_rank is required (the index of its prefill instance)`,
        `  ${file}:28:22: all.children.P.hosts.p1.node_port: 'kv_rank' is undefined in "{{ global_port_base + port_offset.P + kv_rank }}"`,
        `  ${file}:29:21: all.children.P.hosts.p1.api_port: 'kv_rank' is undefined in "{{ base_api_port + port_offset.P + kv_rank }}"`,
        '',
      ].join('\n'),
    );
  });

  it('refuses -e without KEY=VALUE', async () => {
    const r = await runDeploy(
      ['plan', '-i', path.join(ROOT, 'inventories', '2P1D.yml'), '-e', 'MODEL_PATH'],
      NO_COLOR,
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /-e expects KEY=VALUE, got "MODEL_PATH"/);
  });
});
