import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { buildRanktables, RanktableError, type RanktableInput } from '../../src/plan/ranktable';
import { hccnOutput, host, inputFor, LAYOUT_2P1D } from './ranktableLayouts';

/** buildRanktables must throw (so nothing is distributed) with every listed fragment in one error. */
function assertRefused(input: RanktableInput, ...fragments: string[]): RanktableError {
  let refused: unknown;
  let produced: unknown;
  try {
    produced = buildRanktables(input);
  } catch (err) {
    refused = err;
  }
  assert.equal(produced, undefined, 'files were produced');
  assert.ok(refused instanceof RanktableError, `expected a RanktableError, got ${String(refused)}`);
  for (const fragment of fragments) assert.ok(refused.message.includes(fragment), refused.message);
  return refused;
}

function withOutput(host: string, device: number, output: string | undefined): RanktableInput {
  const input = inputFor(LAYOUT_2P1D);
  const hccn = input.hccn.filter((p) => !(p.host === host && p.device === device));
  return { ...input, hccn: output === undefined ? hccn : [...hccn, { host, device, output }] };
}

describe('buildRanktables refuses a bad cluster before producing anything', () => {
  it('a device without IP', () => {
    const output = 'ipaddr:\nnetmask:\n';
    assertRefused(
      withOutput('d1', 7, output),
      'host d1 (10.0.0.4) device 7',
      JSON.stringify(output),
      'no IP',
    );
  });

  it('a duplicate device IP across hosts', () => {
    const output = hccnOutput('192.168.1.10');
    const err = assertRefused(
      withOutput('p1', 4, output),
      'host p1 (10.0.0.2) device 4: device IP 192.168.1.10',
      JSON.stringify(output),
      'host p0 (10.0.0.1) device 0',
    );
    assert.equal(err.problems.length, 1);
  });

  it('a planned device missing from the host', () => {
    assertRefused(withOutput('d0', 15, undefined), 'host d0 (10.0.0.3) device 15: no hccn_tool output');
  });

  it('output for a device the plan does not list', () => {
    assertRefused(
      withOutput('p0', 16, hccnOutput('192.168.1.26')),
      'host p0 (10.0.0.1) device 16',
      'the plan does not list',
    );
  });

  it('garbled hccn_tool output', () => {
    const output = 'Command execute failed: invalid device id\n';
    assertRefused(withOutput('p0', 2, output), 'host p0 (10.0.0.1) device 2', JSON.stringify(output));
  });

  it('lists every problem at once', () => {
    const input = withOutput('p0', 2, 'garbage');
    const err = assertRefused(
      { ...input, hccn: input.hccn.filter((p) => !(p.host === 'd1' && p.device === 0)) },
      'host p0 (10.0.0.1) device 2',
      'host d1 (10.0.0.4) device 0',
    );
    assert.equal(err.problems.length, 2);
  });

  it('a layout that omniinfer could not run', () => {
    const layout = {
      prefill: [
        { kvRank: 0, hosts: [host('p0', '10.0.0.1')] },
        { kvRank: 2, hosts: [host('p1', 'p1.example')] },
      ],
      decode: [{ hosts: [host('d0', '10.0.0.3', [0, 1, 1])] }, { hosts: [host('p0', '10.0.0.4')] }],
    };
    assertRefused(
      inputFor(layout),
      'exactly one decode instance',
      'kv_ranks must be 0…1',
      'host p1: address "p1.example" is not an IPv4 address',
      'host d0 (10.0.0.3) device 1 is listed twice',
      'host p0 appears more than once',
    );
  });
});
