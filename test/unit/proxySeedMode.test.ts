import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { renderSeedProxyScript } from '../../src/plan/proxy';
import { proxyInput } from '../../src/workflows/cluster/serverSteps';
import { assertGolden } from '../helpers/golden';
import { seedPlan } from '../helpers/plans';

describe('proxy seed mode (omniinfer global_proxy.sh)', () => {
  it('renders the seed run_proxy_server.sh call from the 2P1D plan', () => {
    const input = proxyInput(seedPlan('2P1D', { proxy_mode: 'seed', HTTP_PROXY: 'http://proxy.local:3128' }));
    assert.ok(input.seed, 'seed mode carries its script');
    assert.equal(input.seed.scriptPath, '/tmp/scripts_path/proxy_c0/run_proxy_server.sh');
    assert.equal(input.healthUrl, 'http://127.0.0.1:7000/v1/models');
    assertGolden('proxy/seed-run_proxy_server.sh', input.seed.script);
    // The seed's DECODE_API_SERVER_LIST `ip:port@15` expands to 16 consecutive ports per decode host.
    const decode = input.seed.script.match(/--decode-servers-list (\S+)/)![1]!.split(',');
    assert.equal(decode.length, 32);
    assert.equal(decode[0], '127.0.0.3:9100');
    assert.equal(decode[31], '127.0.0.4:9116');
    assert.match(input.seed.script, /--prefill-servers-list 127\.0\.0\.1:9000,127\.0\.0\.2:9001 /);
    execFileSync('bash', ['-n'], { input: input.seed.script });
  });

  it('njs mode (the default) carries no seed script', () => {
    assert.equal(proxyInput(seedPlan()).seed, undefined);
  });

  it('quotes inventory values', () => {
    const script = renderSeedProxyScript({
      listenPort: 7000,
      prefill: ['a:1'],
      decode: ['b:2'],
      codePath: "/data/x'; reboot #",
      logDir: '/data/log',
      prefillLbSdk: 'pd_score_balance',
      decodeLbSdk: 'pd_score_balance',
      httpProxy: '$(reboot)',
    });
    assert.match(script, /cd '\/data\/x'\\''; reboot #\/omniinfer\/tools\/scripts'/);
    assert.match(script, /export http_proxy='\$\(reboot\)'/);
  });
});
