import { after, afterEach, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  isAlive,
  isRunning,
  livePid,
  pidRecordOf,
  readPidFile,
  stopRecorded,
  writePidFile,
} from '../../src/shared/pidFile';

/**
 * The pid-file rule that keeps `deploy server stop`, `deploy worker --stop` and `sim down` from
 * signalling a stranger: a recorded PID is ours only while a process with the recorded start time
 * holds it. A PID the kernel gave to another process is simulated by a live process of this test
 * recorded with a wrong start time.
 */
describe('pid files', () => {
  let dir: string;
  const children: ChildProcess[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pid-file-'));
  });
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sleeper(): ChildProcess & { pid: number } {
    const c = spawn('sleep', ['30'], { stdio: 'ignore' });
    children.push(c);
    assert.ok(c.pid !== undefined);
    return c as ChildProcess & { pid: number };
  }

  const exited = (c: ChildProcess) =>
    new Promise<NodeJS.Signals | number | null>((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) resolve(c.signalCode ?? c.exitCode);
      else c.once('exit', (code, signal) => resolve(signal ?? code));
    });

  it('records the PID with its start time and signals the process it recorded', async () => {
    const c = sleeper();
    const file = path.join(dir, 'ours.pid');
    writePidFile(file, c.pid);
    const rec = readPidFile(file);
    const start = fs.readFileSync(`/proc/${c.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
    assert.deepEqual(rec, { pid: c.pid, start });
    assert.equal(livePid(file), c.pid);

    assert.equal(await stopRecorded(file, 5000), c.pid);
    assert.equal(await exited(c), 'SIGTERM');
    assert.equal(fs.existsSync(file), false, 'the pid file is forgotten');
  });

  it('does not signal a live process whose start time differs (a reused PID)', async () => {
    const c = sleeper();
    const file = path.join(dir, 'reused.pid');
    const real = pidRecordOf(c.pid);
    fs.writeFileSync(file, JSON.stringify({ pid: c.pid, start: String(Number(real.start) - 1) }));

    assert.equal(livePid(file), undefined);
    assert.equal(isRunning(readPidFile(file)), false);
    assert.equal(await stopRecorded(file, 500), undefined);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(c.exitCode, null);
    assert.equal(c.signalCode, null);
    assert.ok(isAlive(c.pid), 'the stranger still runs');
  });

  it('counts a zombie as gone', async () => {
    // sh starts `sleep 1` in the background, prints its PID and becomes `sleep 30`, which never
    // reaps: the exited `sleep 1` stays a zombie with its PID and start time. (With `sleep 0` the
    // child could exit before the exec on a loaded machine, and sh reaped it.)
    const parent = spawn('sh', ['-c', 'sleep 1 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    children.push(parent);
    const zombie = Number(
      await new Promise<string>((resolve) => parent.stdout!.once('data', (d: Buffer) => resolve(String(d)))),
    );
    const deadline = Date.now() + 10_000;
    const state = () => fs.readFileSync(`/proc/${zombie}/stat`, 'utf8').split(') ')[1]![0];
    while (state() !== 'Z' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(state(), 'Z');

    const file = path.join(dir, 'zombie.pid');
    writePidFile(file, zombie);
    assert.equal(readPidFile(file)?.pid, zombie);
    assert.equal(isAlive(zombie), false);
    assert.equal(livePid(file), undefined);
    assert.equal(await stopRecorded(file, 500), undefined);
  });

  it('treats a file of an older version (a PID only) as not ours', async () => {
    const c = sleeper();
    const file = path.join(dir, 'old.pid');
    fs.writeFileSync(file, `${c.pid}\n`);
    assert.deepEqual(readPidFile(file), { pid: c.pid, start: null });
    assert.equal(livePid(file), undefined);
    await assert.rejects(stopRecorded(file, 500), new RegExp(`pid ${c.pid} without its start time`));
    assert.equal(c.exitCode, null);
    assert.equal(c.signalCode, null);
    assert.ok(fs.existsSync(file), 'kept for the operator to look at');

    // Naming a process that is gone, it is simply nothing to stop.
    const gone = sleeper();
    gone.kill('SIGKILL');
    await exited(gone);
    fs.writeFileSync(file, `${gone.pid}\n`);
    assert.equal(await stopRecorded(file, 500), undefined);
  });

  it('ignores a missing or unreadable file', async () => {
    assert.equal(livePid(path.join(dir, 'missing.pid')), undefined);
    fs.writeFileSync(path.join(dir, 'junk.pid'), 'not a pid\n');
    assert.equal(readPidFile(path.join(dir, 'junk.pid')), undefined);
    assert.equal(await stopRecorded(path.join(dir, 'junk.pid'), 500), undefined);
  });
});
