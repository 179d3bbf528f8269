import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { clusterFiles, hostExec, powerOffHost, rebootHost } from '../../sim';
import { planFromFile } from '../../src/client/planFile';
import { retryFailedUpdate, statusQuery } from '../../src/workflows/cluster/messages';
import {
  activityRuns,
  historyText,
  planContainers,
  recordHistory,
  ssh,
  waitForStatus,
} from '../helpers/deploy';
import { useSimDeploy } from '../helpers/simDeploy';

/**
 * Failures the cluster workflow must report per host on sim-2P1D (sim instance 22), with a real
 * Temporal server and the real activities in this process: a powered-off host (retried, then
 * waiting for the operator; `retryFailed` completes once it is back), a wrong host key (not
 * retried), and password login whose password never reaches the workflow history.
 */
const INSTANCE = 22;

describe('cluster workflow failures on sim-2P1D', { timeout: 300_000 }, () => {
  const sim = useSimDeploy('sim-2P1D', INSTANCE);

  it('a host that is down: retried, then a failure naming it; retryFailed completes once it is back', async () => {
    const ctx = sim.cluster.ctx;
    await powerOffHost('d1', ctx);
    // Forget d1's MAC as a machine off for a while would be forgotten: connects then fail at once
    // (EHOSTUNREACH) instead of each attempt waiting out the 20 s SSH handshake budget.
    const d1Address = sim.plan.hosts.find((h) => h.name === 'd1')!.address;
    execFileSync('ip', ['neigh', 'flush', 'to', d1Address, 'dev', ctx.bridge]);
    const plan = sim.cluster.plan({ cluster_name: 'down-host' });
    const handle = await sim.deploy(['preflight', 'run_docker'], {}, plan);
    const waiting = await waitForStatus(handle, (s) => s.stage !== 'deploying', 90_000);
    assert.equal(waiting.stage, 'waiting-for-operator');
    assert.equal(waiting.currentPhase, 'preflight');
    assert.deepEqual(
      waiting.failures.map((f) => [f.host, f.phase, f.type, f.nonRetryable]),
      [['d1', 'preflight', 'ConnectionError', false]],
    );
    assert.match(waiting.failures[0]!.message, /cannot reach d1 \(10\.231\.22\.14\)/);
    for (const h of ['p0', 'p1', 'd0', 'c0']) assert.equal(waiting.table[h]?.run_docker, undefined, h);
    const failedRun = activityRuns(await handle.fetchHistory()).find((r) => r.summary === 'd1 · preflight')!;
    assert.equal(failedRun.outcome, 'failed');
    assert.equal(failedRun.failureType, 'ConnectionError');
    assert.equal(failedRun.attempt, 3, 'a transient failure is retried up to maximumAttempts');

    await rebootHost('d1', ctx);
    const outcome = await handle.executeUpdate(retryFailedUpdate);
    assert.deepEqual(outcome, { phase: 'preflight', ok: true, failures: [] });
    const ready = await waitForStatus(handle, (s) => s.stage !== 'deploying');
    assert.equal(ready.stage, 'ready', JSON.stringify(ready.failures));
    const containers = await planContainers(ctx, plan);
    for (const h of plan.hosts) assert.ok(containers[h.name]?.running, `${h.name} container`);
    // The retry re-ran only d1's preflight; the hosts that had passed were not checked again.
    const preflights = activityRuns(await handle.fetchHistory()).filter((r) => r.type === 'preflight');
    assert.deepEqual(preflights.map((r) => r.summary.split(' ')[0]).sort(), [
      'c0',
      'd0',
      'd1',
      'd1',
      'p0',
      'p1',
    ]);
    await recordHistory(handle, 'deploy-host-down-retry-failed');
    await handle.terminate('e2e: done');
  });

  it('a wrong host key: a non-retryable HostKeyMismatchError naming the host, tried once', async () => {
    const ctx = sim.cluster.ctx;
    const plan0 = sim.plan;
    const d0 = plan0.hosts.find((h) => h.name === 'd0')!;
    // The sim's known_hosts with d0's key replaced by a freshly generated one.
    const dir = fs.mkdtempSync(path.join(path.dirname(sim.cluster.inventoryFile), 'kh-'));
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'other')]);
    const other = fs.readFileSync(path.join(dir, 'other.pub'), 'utf8').trim().split(/\s+/);
    const lines = fs.readFileSync(clusterFiles(ctx).knownHosts, 'utf8').trim().split('\n');
    let replaced = 0;
    const knownHosts = lines.map((line) => {
      const [names = '', type] = line.split(/\s+/);
      if (!names.split(',').includes(d0.address) || type !== other[0]) return line;
      replaced++;
      return `${names} ${other[0]} ${other[1]}`;
    });
    assert.equal(replaced, 1, `one ed25519 line for ${d0.address} in ${lines.join('\n')}`);
    const knownHostsFile = path.join(dir, 'known_hosts');
    fs.writeFileSync(knownHostsFile, knownHosts.join('\n') + '\n');

    const plan = sim.cluster.plan({ known_hosts_file: knownHostsFile, cluster_name: 'wrong-key' });
    const handle = await sim.deploy(['preflight', 'run_docker'], {}, plan);
    const waiting = await waitForStatus(handle, (s) => s.stage !== 'deploying', 60_000);
    assert.equal(waiting.stage, 'waiting-for-operator');
    assert.deepEqual(
      waiting.failures.map((f) => [f.host, f.phase, f.type, f.nonRetryable]),
      [['d0', 'preflight', 'HostKeyMismatchError', true]],
    );
    assert.match(waiting.failures[0]!.message, /host key of d0 \(10\.231\.22\.13\) does not match/);
    for (const h of ['p0', 'p1', 'd1', 'c0']) assert.equal(waiting.table[h]?.preflight?.state, 'running', h);
    const runs = activityRuns(await handle.fetchHistory()).filter((r) => r.summary === 'd0 · preflight');
    assert.deepEqual(
      runs.map((r) => [r.attempt, r.outcome, r.failureType]),
      [[1, 'failed', 'HostKeyMismatchError']],
    );
    await recordHistory(handle, 'deploy-host-key-mismatch');
    await handle.terminate('e2e: done');
  });

  it('password login: run_docker succeeds on that host and the password is nowhere in history', async () => {
    const ctx = sim.cluster.ctx;
    const password = `pw-${randomUUID()}`;
    // d1 accepts root's password and nothing else: sshd reloaded (SIGHUP to the host's PID 1)
    // with password login on, root's authorized_keys moved away.
    await hostExec('d1', ['chpasswd'], `root:${password}\n`, ctx);
    await hostExec(
      'd1',
      [
        'sh',
        '-c',
        `sed -i -e 's/^PasswordAuthentication no/PasswordAuthentication yes/' ` +
          `-e 's/^PermitRootLogin .*/PermitRootLogin yes/' /etc/ssh/sshd_config && ` +
          `mv /root/.ssh/authorized_keys /root/.ssh/authorized_keys.off && kill -HUP 1`,
      ],
      undefined,
      ctx,
    );
    const inventory = fs
      .readFileSync(sim.cluster.inventoryFile, 'utf8')
      .replace(/^( {8}d1:\n)/m, `$1          ansible_password: '${password}'\n`);
    assert.ok(inventory.includes(password));
    const inventoryFile = path.join(path.dirname(sim.cluster.inventoryFile), 'password.yml');
    fs.writeFileSync(inventoryFile, inventory);
    const plan = planFromFile(inventoryFile, { cluster_name: 'password' });
    assert.equal(plan.hosts.find((h) => h.name === 'd1')!.ssh.auth.method, 'password');
    assert.ok(!JSON.stringify(plan).includes(password), 'the plan carries a reference only');

    const handle = await sim.deploy(['preflight', 'run_docker'], {}, plan);
    const status = await waitForStatus(handle, (s) => s.stage !== 'deploying', 60_000);
    assert.equal(status.stage, 'ready', JSON.stringify(status.failures));
    assert.equal(status.table.d1?.run_docker?.state, 'ok');
    const d1 = plan.hosts.find((h) => h.name === 'd1')!;
    const d1Container = await hostExec('d1', ['docker', 'ps', '--format', '{{.Names}}'], undefined, ctx);
    assert.equal(d1Container.trim(), d1.container.name);
    // Only the password can have let the workflow in: the sim's key is refused there now.
    await assert.rejects(ssh(ctx, d1.address, 'true'), /Permission denied/);

    const history = historyText(await handle.fetchHistory());
    // Payloads are decoded: the password's reference (inventory file # host) is there, its value not.
    assert.ok(history.includes(inventoryFile) && history.includes('inventoryHost'), 'decoded payloads');
    assert.ok(!history.includes(password), 'the password appears in the workflow history');
    assert.ok(!JSON.stringify(await handle.query(statusQuery)).includes(password));
    await handle.terminate('e2e: done');
  });
});
