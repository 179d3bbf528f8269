// runner: group=production lanes=2 (PostgreSQL, a Temporal server and worker machines of its own: it loads the 2 cores for two files)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  hostsFromInventory,
  powerOffHost,
  rebootHost,
  setEngineKnobs,
  simContext,
  simDown,
  simUp,
  sshOptions,
} from '../../sim';
import { clusterWorkflowId } from '../../src/shared/ids';
import { readPidFile } from '../../src/shared/pidFile';
import { shellJoin } from '../../src/shared/shellQuote';
import { clientIdentity } from '../../src/temporal/production/certificates';
import { postgresPid } from '../../src/temporal/production/postgres';
import { tlsClientEnvironment } from '../../src/temporal/production/settings';
import { statusQuery } from '../../src/workflows/cluster/messages';
import type { ClusterStatus } from '../../src/workflows/cluster/types';
import { runDeploy } from '../helpers/cli';
import { activityRuns, historyText } from '../helpers/deploy';
import { productionTemporal, type ProductionTemporal } from '../helpers/productionTemporal';
import { waitFor } from '../helpers/waitFor';
import { browseCluster } from '../helpers/webui';

/**
 * omni-deploy on the production topology with workers on several machines (issue 18), on its own
 * simulated cluster (instance 62): the native production Temporal (PostgreSQL, temporal-server with
 * mTLS, the Web UI server) listens on the sim bridge 10.231.62.1; two shared-queue workers run
 * `deploy worker` inside the simulated machines w1 and w2, the executor-queue worker inside ex,
 * which holds the code to sync; each started over SSH from this checkout (bind-mounted where the
 * machines see it: HOST_CHECKOUT), each with its own client certificate. sim-2P1D is deployed three
 * times, each time with a fault in the middle of run_server (engines slowed so it lasts): the host
 * of the worker running a step is powered off; temporal-server is killed and started again;
 * PostgreSQL is killed and started again 20 s later. Each deploy must finish with every step done
 * exactly once (or retried only where the fault hit), and times are printed.
 */
const INSTANCE = Number(process.env.PROD_WORKERS_TEST_INSTANCE ?? 62);
const ctx = simContext(INSTANCE);
const BRIDGE = `${ctx.subnet}.1`;
const CHECKOUT = path.join(__dirname, '..', '..');
const CLUSTER = 'prod-2p1d';
const SHARED_WORKERS = ['w1', 'w2'];
const EXECUTOR = 'ex';
const WORKER_HOSTS = [...SHARED_WORKERS, EXECUTOR].map((name, i) => ({
  name,
  address: `${ctx.subnet}.${21 + i}`,
}));
/** Engines take this long to start, so run_server lasts long enough to be hit. */
const ENGINE_START_S = 12;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function inventoryText(): string {
  return fs
    .readFileSync(path.join(CHECKOUT, 'inventories', 'sim-2P1D.yml'), 'utf8')
    .replaceAll('10.231.0.', `${ctx.subnet}.`)
    .replace(/(ansible_ssh_private_key_file:).*/, `$1 '${machineSimDir()}/client_key'`)
    .replace(/(known_hosts_file:).*/, `$1 '${machineSimDir()}/known_hosts'`)
    .replace(/(LOCAL_CODE_PATH:).*/, '$1 /srv/omni/code')
    .replace(/(LOG_PATH_IN_EXECUTOR:).*/, '$1 /srv/omni/logs')
    .replace(/(cluster_name:).*/, `$1 ${CLUSTER}`);
}

/**
 * The sim's key and known_hosts folder as the worker machines see it: through HOST_CHECKOUT when
 * it lies inside the checkout, since a checkout under /root is not there on the machines (each has
 * its own /root). A clean clone under /root failed every deploy here: `cannot read the private key
 * /root/…/client_key … on this worker (ENOENT)`; and, in a fresh clone, realpath of the not yet
 * created folder failed the suite's set-up.
 */
function machineSimDir(): string {
  // The folder need not exist yet (sim up creates it): compare paths, not realpaths of it.
  const dir = path.resolve(ctx.dir);
  for (const root of [CHECKOUT, REAL_CHECKOUT]) {
    const rel = path.relative(root, dir);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) return path.join(HOST_CHECKOUT, rel);
  }
  return ctx.dir;
}

/** The processes whose parent is `pid` (from /proc). */
function childrenOf(pid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .filter((d) => {
      try {
        // comm may hold spaces and parentheses: the fields after its closing one.
        const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })
    .map(Number);
}

/** A script on a simulated machine over ssh (optionally with stdin); rejects on failure. */
function ssh(address: string, script: string, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ssh', [...sshOptions(ctx), address, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.stdin.end(input ?? '');
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`ssh ${address}: ${out}`))));
  });
}

/**
 * The workers run `bin/deploy` of this checkout inside the simulated machines. /root, /tmp, /data
 * (and /srv, /var/log) are each machine's own (sim/host-init.sh), so a checkout under them would
 * not be there: the test bind-mounts the checkout on HOST_CHECKOUT, a path the machines share with
 * this one, before it brings them up (each machine's mount namespace starts as a copy of this
 * one), and runs the workers from there — wherever the checkout lives, /work or /root.
 */
const REAL_CHECKOUT = fs.realpathSync(CHECKOUT);
const HOST_CHECKOUT = `/var/tmp/omni-deploy-checkout-i${INSTANCE}`;

function checkoutMounted(): boolean {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((l) => l.split(' ')[4] === HOST_CHECKOUT);
}

/** Undoes exposeCheckout (also what a run that died left behind); never deletes through the mount. */
function hideCheckout(): void {
  while (checkoutMounted()) execFileSync('umount', ['-l', HOST_CHECKOUT]);
  if (fs.existsSync(HOST_CHECKOUT)) fs.rmdirSync(HOST_CHECKOUT); // empty once unmounted
}

function exposeCheckout(): void {
  hideCheckout();
  fs.mkdirSync(HOST_CHECKOUT, { recursive: true });
  execFileSync('mount', ['--bind', REAL_CHECKOUT, HOST_CHECKOUT]);
}

describe('workers on several machines, on the production Temporal', { timeout: 1_800_000 }, () => {
  let t: ProductionTemporal | undefined;
  let work: string;
  let inventory: string;
  let client: Client;
  let connection: Connection | undefined;
  /** PID (in its machine) of each machine's `deploy worker`, to stop exactly it. */
  const workerPid = new Map<string, number>();
  const timings: string[] = [];
  const handle = (): WorkflowHandle => client.workflow.getHandle(clusterWorkflowId(CLUSTER));
  const address = (name: string) => WORKER_HOSTS.find((h) => h.name === name)!.address;

  /** `deploy worker` inside a machine, in its own session, with that machine's certificate. */
  async function startWorker(name: string): Promise<void> {
    const id = clientIdentity('/root/tls', name);
    const env = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: '/root',
      TEMPORAL_ADDRESS: `${BRIDGE}:${t!.port}`,
      TEMPORAL_NAMESPACE: 'default',
      ...tlsClientEnvironment(id),
      OMNI_DEPLOY_STATE_DIR: '/root/.omni-deploy',
    };
    const args = name === EXECUTOR ? ['--no-shared', '--executor', EXECUTOR] : ['--no-executor'];
    const command = shellJoin([
      'setsid',
      'env',
      '-i',
      ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
      path.join(HOST_CHECKOUT, 'bin', 'deploy'),
      'worker',
      ...args,
    ]);
    const pid = Number(
      (await ssh(address(name), `${command} > /var/log/omni-worker.log 2>&1 < /dev/null & echo $!`)).trim(),
    );
    workerPid.set(name, pid);
    let log = '';
    await waitFor(
      async () =>
        (log = await ssh(address(name), 'cat /var/log/omni-worker.log')).includes('worker connected'),
      { timeout: 120_000, interval: 500, what: `the worker on ${name} to connect`, detail: () => log },
    );
  }

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'omni-prod-workers-'));
    inventory = path.join(work, `${CLUSTER}.yml`);
    fs.writeFileSync(inventory, inventoryText());
    await simDown(ctx); // a previous run that died leaves its hosts behind
    exposeCheckout();
    await simUp([...hostsFromInventory(inventory), ...WORKER_HOSTS], { ctx, devices: 2 });
    // The machines run the checkout from HOST_CHECKOUT: there, it is this checkout.
    assert.equal(
      (await ssh(address(EXECUTOR), `cat ${HOST_CHECKOUT}/package.json`)).trim(),
      fs.readFileSync(path.join(REAL_CHECKOUT, 'package.json'), 'utf8').trim(),
    );

    // The server listens on the bridge, where the machines reach it; the UI on loopback for the browser.
    t = await productionTemporal({ ip: BRIDGE, uiIp: '127.0.0.1' });
    const started = Date.now();
    const up = await t.start();
    assert.equal(up.code, 0, up.stdout + up.stderr);
    console.log(`production Temporal up in ${seconds(Date.now() - started)}:\n${up.stdout}`);
    const certs = await runDeploy(
      ['certs', '--dir', t.layout.tls, ...WORKER_HOSTS.flatMap((h) => ['--client', h.name])],
      t.env,
    );
    assert.equal(certs.code, 0, certs.stdout + certs.stderr);

    for (const h of WORKER_HOSTS) {
      // Each machine gets the CA and its own certificate and key, nothing else.
      const id = clientIdentity(t.layout.tls, h.name);
      await ssh(h.address, 'mkdir -p /root/tls && chmod 700 /root/tls');
      for (const [file, mode] of [
        [id.ca, '644'],
        [id.cert, '644'],
        [id.key, '600'],
      ] as const) {
        const target = `/root/tls/${path.basename(file)}`;
        await ssh(h.address, `cat > ${target} && chmod ${mode} ${target}`, fs.readFileSync(file, 'utf8'));
      }
    }
    // The executor holds the code checkout that sync_code pushes.
    await ssh(
      address(EXECUTOR),
      "mkdir -p /srv/omni/code/omniinfer && echo '# omniinfer on the executor' > /srv/omni/code/omniinfer/setup.py",
    );
    for (const h of WORKER_HOSTS) await startWorker(h.name);
    for (const h of hostsFromInventory(inventory))
      setEngineKnobs(h.name, { SIM_ENGINE_START_DELAY: ENGINE_START_S }, ctx);

    connection = await Connection.connect(t.connection());
    client = new Client({ connection });
  });

  after(async () => {
    for (const [name, pid] of workerPid)
      await ssh(address(name), `kill ${pid} 2>/dev/null || true`).catch(() => undefined);
    await connection?.close();
    if (timings.length) console.log(`\n== timings\n${timings.join('\n')}`);
    await t?.remove();
    await simDown(ctx);
    hideCheckout();
    fs.rmSync(work, { recursive: true, force: true });
  });

  const status = () => handle().query(statusQuery);

  async function waitForStage(stage: ClusterStatus['stage'], timeoutMs: number): Promise<number> {
    let s: ClusterStatus | undefined;
    return waitFor(
      async () => {
        s = await status().catch(() => undefined);
        assert.notEqual(s?.stage, 'waiting-for-operator', JSON.stringify(s?.failures));
        return s?.stage === stage && Date.now();
      },
      {
        timeout: timeoutMs,
        interval: 250,
        what: `stage ${stage}`,
        detail: () => `last: ${JSON.stringify(s)}`,
      },
    );
  }

  /** `deploy start` from this machine (the operator's), the deploy's own workers elsewhere. */
  async function deploy(): Promise<void> {
    // A previous case that failed half-way leaves its deploy running: each case starts afresh.
    const previous = await handle()
      .describe()
      .catch(() => undefined);
    if (previous?.status.name === 'RUNNING') await down();
    const r = await runDeploy(['start', '-i', inventory, '--executor', EXECUTOR, '--detach'], t!.clientEnv);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }

  async function down(): Promise<void> {
    const r = await runDeploy(['down', CLUSTER], t!.clientEnv, 300_000);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }

  interface Pending {
    activityId: string;
    type: string;
    identity: string;
    attempt: number;
    started: boolean;
  }

  async function pending(): Promise<Pending[]> {
    const d = await handle().describe();
    return (d.raw.pendingActivities ?? []).map((a) => ({
      activityId: a.activityId ?? '',
      type: a.activityType?.name ?? '',
      identity: a.lastWorkerIdentity ?? '',
      attempt: a.attempt ?? 1,
      started: a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    }));
  }

  /** Waits until run_server has a step running on a worker; returns the running steps. */
  async function midRunServer(): Promise<Pending[]> {
    let s: ClusterStatus | undefined;
    return waitFor(
      async () => {
        s = await status().catch(() => undefined);
        const running = (await pending().catch(() => [])).filter((p) => p.identity !== '' && p.started);
        return s?.currentPhase === 'run_server' && running.length > 0 && running;
      },
      { timeout: 240_000, what: 'a run_server step running', detail: () => JSON.stringify(s) },
    );
  }

  /** Every step of the run completed, each scheduled once; returns those that needed more than one attempt. */
  async function assertEveryStepOnce(): Promise<string[]> {
    const runs = activityRuns(await handle().fetchHistory());
    const seen = new Map<string, number>();
    for (const r of runs) {
      if (r.type === 'watchHealth') continue; // the health watch that runs once ready
      assert.equal(r.outcome, 'completed', `${r.type} ${r.summary}`);
      seen.set(`${r.type} ${r.summary}`, (seen.get(`${r.type} ${r.summary}`) ?? 0) + 1);
    }
    for (const [step, n] of seen) assert.equal(n, 1, `${step} scheduled ${n} times`);
    return runs.filter((r) => r.attempt > 1).map((r) => `${r.type} ${r.summary}`);
  }

  it('the other worker finishes a deploy whose worker machine is powered off mid-phase', async () => {
    await deploy();
    const running = await midRunServer();
    const victim = running.find((p) => SHARED_WORKERS.some((w) => p.identity.endsWith(`@${w}`)))!;
    assert.ok(victim, `a shared worker runs a step: ${JSON.stringify(running)}`);
    const victimHost = victim.identity.split('@')[1]!;
    const survivor = SHARED_WORKERS.find((w) => w !== victimHost)!;
    const hit = running.filter((p) => p.identity === victim.identity).map((p) => p.activityId);
    console.log(
      `powering off ${victimHost} while it runs ${running
        .filter((p) => p.identity === victim.identity)
        .map((p) => p.type)
        .join(', ')}`,
    );
    const t0 = Date.now();
    await powerOffHost(victimHost, ctx);
    workerPid.delete(victimHost);

    // Detected: the server gives the step up (heartbeat timeout) and schedules its next attempt;
    // resumed: the survivor runs it.
    let detected: number | undefined;
    let resumed: number | undefined;
    while (resumed === undefined) {
      const p = (await pending()).find((x) => x.activityId === victim.activityId);
      if (!p) break; // already done
      if (p.attempt > victim.attempt) detected ??= Date.now();
      if (p.attempt > victim.attempt && p.identity.endsWith(`@${survivor}`) && p.started) {
        resumed = Date.now();
      }
      assert.ok(Date.now() - t0 < 180_000, `the step was never picked up again: ${JSON.stringify(p)}`);
      await sleep(200);
    }
    const ready = await waitForStage('ready', 300_000);
    const retried = await assertEveryStepOnce();
    timings.push(
      `worker machine ${victimHost} powered off mid-run_server: detected ${detected ? seconds(detected - t0) : '–'}, ` +
        `resumed on ${survivor} ${resumed ? seconds(resumed - t0) : '–'}, deploy ready ${seconds(ready - t0)} after the fault; ` +
        `retried: ${retried.join(', ') || 'none'}`,
    );
    console.log(timings.at(-1));
    // Only what ran on the lost machine ran again, and only on the survivor.
    const history = await handle().fetchHistory();
    const byId = new Map<string, string>();
    for (const e of history.events ?? []) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) byId.set(String(e.eventId), s.activityId ?? '');
      const started = e.activityTaskStartedEventAttributes;
      if (started && (started.attempt ?? 1) > 1) {
        assert.ok(
          hit.includes(byId.get(String(started.scheduledEventId))!),
          'retried only what the fault hit',
        );
        assert.match(started.identity ?? '', new RegExp(`@${survivor}$`));
      }
    }
    assert.ok(retried.length > 0, 'the powered-off machine was running a step');

    // Its machine comes back and its worker with it, for the next deploys.
    await rebootHost(victimHost, ctx);
    await startWorker(victimHost);
    await down();
  });

  /** `deploy server start --backend postgres` with the topology's own addresses: what is down comes back. */
  const restartTopology = () =>
    runDeploy(
      ['server', 'start', '--backend', 'postgres', '--ip', BRIDGE, '--port', String(t!.port)].concat([
        '--ui-port',
        String(t!.uiPort),
        '--ui-ip',
        '127.0.0.1',
        '--db-port',
        String(t!.dbPort),
      ]),
      t!.env,
      300_000,
    );

  it('a deploy survives a restart of temporal-server: PostgreSQL kept everything', async () => {
    await deploy();
    await midRunServer();
    const before = (await handle().describe()).historyLength;
    const server = readPidFile(t!.layout.server.pid)!;
    const t0 = Date.now();
    process.kill(server.pid, 'SIGKILL');
    const restart = await restartTopology();
    assert.equal(restart.code, 0, restart.stdout + restart.stderr);
    assert.match(restart.stdout, /^temporal-server started/m);
    const answering = Date.now();
    let moving: number | undefined;
    while (moving === undefined) {
      const d = await handle()
        .describe()
        .catch(() => undefined);
      if (d && d.historyLength > before) moving = Date.now();
      else await sleep(200);
      assert.ok(Date.now() - t0 < 180_000, 'the deploy never moved again');
    }
    const ready = await waitForStage('ready', 300_000);
    const retried = await assertEveryStepOnce();
    timings.push(
      `temporal-server killed mid-run_server: answering again ${seconds(answering - t0)} (restart), ` +
        `deploy moving ${seconds(moving - t0)}, ready ${seconds(ready - t0)} after the kill; retried: ${retried.join(', ') || 'none'}`,
    );
    console.log(timings.at(-1));
    await down();
  });

  it('a deploy survives PostgreSQL down for 20 s', async () => {
    await deploy();
    await midRunServer();
    const serverPid = readPidFile(t!.layout.server.pid)!.pid;
    const pg = (await postgresPid(t!.layout))!;
    const before = (await handle().fetchHistory()).events?.length ?? 0;
    // The whole database dies at once, as in a crash of its machine: the postmaster and every
    // backend serving the server's open connections (a lone postmaster's backends answer on).
    const processes = [pg, ...childrenOf(pg)];
    const t0 = Date.now();
    for (const pid of processes) process.kill(pid, 'SIGKILL');

    // Detected: a call that needs the database fails or gets no answer within 2 s (the server
    // retries the database for a while before it gives up on a call). A visibility count always
    // reads the database; histories may come from the server's cache.
    let detected: number | undefined;
    while (detected === undefined && Date.now() - t0 < 20_000) {
      const ok = await connection!
        .withDeadline(Date.now() + 2000, () => client.workflow.count(`DeployCluster = "${CLUSTER}"`))
        .then(() => true)
        .catch(() => false);
      if (!ok) detected = Date.now();
      else await sleep(250);
    }
    assert.ok(detected, 'a call that reads the database failed while it was down');
    await sleep(Math.max(0, t0 + 20_000 - Date.now()));
    const restart = await restartTopology();
    assert.equal(restart.code, 0, restart.stdout + restart.stderr);
    assert.match(restart.stdout, /^PostgreSQL started/m);
    const pgBack = Date.now();
    let moving: number | undefined;
    while (moving === undefined) {
      const n = await handle()
        .fetchHistory()
        .then((h) => h.events?.length ?? 0)
        .catch(() => 0);
      if (n > before) moving = Date.now();
      else await sleep(250);
      assert.ok(Date.now() - t0 < 240_000, 'the deploy never moved again');
    }
    const ready = await waitForStage('ready', 300_000);
    const retried = await assertEveryStepOnce();
    const sameServer = readPidFile(t!.layout.server.pid)?.pid === serverPid;
    timings.push(
      `PostgreSQL killed for 20 s mid-run_server: detected ${detected ? seconds(detected - t0) : 'not within 20 s'}, ` +
        `PostgreSQL back ${seconds(pgBack - t0)}, deploy moving ${seconds(moving - t0)}, ready ${seconds(ready - t0)} ` +
        `after the kill; temporal-server ${sameServer ? 'rode it out (same process)' : 'was restarted'}; ` +
        `retried: ${retried.join(', ') || 'none'}`,
    );
    console.log(timings.at(-1));
  });

  it('deploy status and the Web UI show the cluster deployed through the production topology', async () => {
    const r = await runDeploy(['status', CLUSTER], t!.clientEnv);
    console.log(r.stdout);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`${CLUSTER}.*ready`));
    for (const h of ['p0', 'p1', 'd0', 'd1', 'c0']) assert.match(r.stdout, new RegExp(`^\\s*${h}\\b`, 'm'));
    const shots = await browseCluster(`http://127.0.0.1:${t!.uiPort}`, CLUSTER, 'production');
    console.log(`Web UI screenshots: ${shots.join(', ')}`);
  });

  it('puts no private key into any history or log', async () => {
    const secrets = fs
      .readdirSync(t!.layout.tls)
      .filter((f) => f.endsWith('.key'))
      .map((f) =>
        fs
          .readFileSync(path.join(t!.layout.tls, f), 'utf8')
          .split('\n')
          .filter((l) => l && !l.startsWith('-----'))
          .join(''),
      );
    const texts: [string, string][] = [];
    for await (const wf of client.workflow.list({ query: `DeployCluster = "${CLUSTER}"` })) {
      texts.push([
        `history of ${wf.workflowId} ${wf.runId}`,
        historyText(await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory()),
      ]);
    }
    assert.ok(texts.length >= 3, `three deploys in visibility: ${texts.length}`);
    for (const log of [t!.layout.server.log, t!.layout.ui.log, t!.layout.postgres.log])
      texts.push([log, fs.readFileSync(log, 'utf8')]);
    for (const h of WORKER_HOSTS) {
      texts.push([
        `worker log on ${h.name}`,
        await ssh(h.address, 'cat /var/log/omni-worker.log').catch(() => ''),
      ]);
    }
    for (const [what, text] of texts) {
      const flat = text.replace(/\\n|\n/g, '');
      assert.doesNotMatch(flat, /PRIVATE KEY/, what);
      for (const s of secrets) assert.ok(!flat.includes(s), `${what} holds a private key`);
    }
    await down();
  });
});
