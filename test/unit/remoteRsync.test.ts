import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseStats, rsyncArgs, type KeyHost } from '../../src/remote/rsync';
import { workerPath } from '../../src/remote/workerPath';

const host: KeyHost = {
  name: 'd0',
  address: '10.231.0.13',
  port: 2222,
  user: 'root',
  auth: { method: 'key', keyFile: '/keys/my key' },
  knownHostsFile: '/state/known_hosts',
  hostKeyPolicy: 'strict',
};

describe('rsync argv', () => {
  it('pushes with the pool identity, known_hosts and strict checking', () => {
    const args = rsyncArgs(host, {
      direction: 'push',
      localDir: '/code',
      remoteDir: '/srv/code',
      delete: true,
      exclude: ['.git'],
    });
    assert.deepEqual(args.slice(0, 5), [
      '-a',
      '--stats',
      '--no-human-readable',
      '--delete',
      '--exclude=.git',
    ]);
    const e = args[args.indexOf('-e') + 1] ?? '';
    assert.match(e, /^ssh -F \/dev\/null -i '\/keys\/my key' -p 2222 -l root /);
    assert.match(e, / -o 'UserKnownHostsFile=\/state\/known_hosts' /);
    assert.match(e, / -o 'StrictHostKeyChecking=yes' /);
    assert.match(e, / -o 'IdentitiesOnly=yes' -o 'BatchMode=yes' /);
    assert.deepEqual(args.slice(-3), ['--', '/code/', '10.231.0.13:/srv/code/']);
  });

  it('pulls the other way round and honours accept-new', () => {
    const args = rsyncArgs(
      {
        ...host,
        address: 'fd00::1',
        auth: { method: 'key', keyFile: '/k' },
        knownHostsFile: '/kh',
        hostKeyPolicy: 'accept-new',
      },
      { direction: 'pull', localDir: '/logs/d0/', remoteDir: '/var/log/engine' },
    );
    assert.ok(!args.includes('--delete'));
    assert.match(args[args.indexOf('-e') + 1] ?? '', /StrictHostKeyChecking=accept-new/);
    assert.deepEqual(args.slice(-2), ['[fd00::1]:/var/log/engine/', '/logs/d0/']);
  });

  it('quotes a known_hosts path with a space for ssh, which splits option values at whitespace', () => {
    const args = rsyncArgs(
      {
        ...host,
        auth: { method: 'key', keyFile: '/srv/my tools/.state/sim/client_key' },
        knownHostsFile: '/srv/my tools/.state/sim/known_hosts',
      },
      { direction: 'push', localDir: '/code', remoteDir: '/srv/code' },
    );
    const e = args[args.indexOf('-e') + 1] ?? '';
    assert.match(e, / -i '\/srv\/my tools\/.state\/sim\/client_key' /);
    assert.match(e, / -o 'UserKnownHostsFile="\/srv\/my tools\/.state\/sim\/known_hosts"' /);
  });

  it('resolves ~/ in the key and known_hosts paths to the worker’s home', () => {
    const args = rsyncArgs(
      {
        ...host,
        auth: { method: 'key', keyFile: '~/.ssh/id_ed25519' },
        knownHostsFile: '~/.ssh/known_hosts',
      },
      { direction: 'push', localDir: '/code', remoteDir: '/srv/code' },
    );
    const e = args[args.indexOf('-e') + 1] ?? '';
    assert.ok(e.includes(` -i ${path.join(os.homedir(), '.ssh/id_ed25519')} `), e);
    assert.ok(e.includes(`UserKnownHostsFile=${path.join(os.homedir(), '.ssh/known_hosts')}`), e);
    assert.ok(!e.includes('~'), e);
  });

  it('workerPath leaves other paths as they are', () => {
    assert.equal(workerPath('~'), os.homedir());
    assert.equal(workerPath('/etc/ssh/ssh_known_hosts'), '/etc/ssh/ssh_known_hosts');
    assert.equal(workerPath('~other/.ssh/id'), '~other/.ssh/id');
    assert.equal(workerPath('/srv/~/x'), '/srv/~/x');
  });

  it('parses --stats', () => {
    const stats = parseStats(
      [
        'Number of files: 4 (reg: 3, dir: 1)',
        'Number of created files: 3 (reg: 3)',
        'Number of regular files transferred: 3',
        'Total file size: 1,048,600 bytes',
        'Literal data: 1,048,600 bytes',
        'Matched data: 0 bytes',
        'Total bytes sent: 1,049,000',
        'Total bytes received: 79',
      ].join('\n'),
    );
    assert.deepEqual(stats, {
      filesTransferred: 3,
      literalBytes: 1048600,
      bytesSent: 1049000,
      bytesReceived: 79,
    });
  });
});
