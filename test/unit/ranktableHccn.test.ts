import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseHccnIpOutput, RanktableError } from '../../src/plan/ranktable';

const CTX = { host: 'p0 (10.0.0.1)', device: 3 };

function refusal(output: string): RanktableError {
  try {
    parseHccnIpOutput(output, CTX);
  } catch (err) {
    assert.ok(err instanceof RanktableError);
    return err;
  }
  assert.fail(`accepted ${JSON.stringify(output)}`);
}

describe('parseHccnIpOutput', () => {
  it('reads the real tool output: ipaddr line first, then netmask', () => {
    assert.deepEqual(parseHccnIpOutput('ipaddr:192.168.1.10\nnetmask:255.255.255.0\n', CTX), {
      ip: '192.168.1.10',
      netmask: '255.255.255.0',
    });
  });

  it('tolerates spaces around the colon, CRLF and a missing netmask', () => {
    assert.deepEqual(parseHccnIpOutput('ipaddr : 192.168.1.10 \r\n', CTX), { ip: '192.168.1.10' });
  });

  for (const [what, output] of [
    ['an error text', 'Command execute failed: device 3 not found\n'],
    ['empty output', ''],
    ['no ipaddr line', 'netmask:255.255.255.0\n'],
    ['two ipaddr lines', 'ipaddr:192.168.1.10\nipaddr:192.168.1.11\n'],
    ['an ipaddr that is no IPv4 address', 'ipaddr:192.168.1.300\nnetmask:255.255.255.0\n'],
  ] as const) {
    it(`refuses ${what}, naming host and device and quoting the output`, () => {
      const err = refusal(output);
      assert.equal(err.name, 'RanktableError');
      assert.match(err.message, /host p0 \(10\.0\.0\.1\) device 3/);
      assert.ok(err.message.includes(JSON.stringify(output)), err.message);
    });
  }
});
