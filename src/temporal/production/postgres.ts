import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cleanEnvironment, exec, execOk } from './exec';
import type { ProductionLayout } from './layout';
import { DB_USER, POSTGRES_MAJOR } from './topology';

/*
 * A private PostgreSQL cluster for Temporal: its data folder under the state folder, its own port
 * on loopback, its socket in its own folder — nothing shared with Debian's clusters
 * (`pg_lsclusters`), which stay untouched. PostgreSQL refuses to run as root, so when this tool
 * runs as root the cluster belongs to, and runs as, Debian's unprivileged `postgres` user.
 */

const PG_USER = 'postgres';

function binDir(): string {
  const pinned = `/usr/lib/postgresql/${POSTGRES_MAJOR}/bin`;
  if (fs.existsSync(path.join(pinned, 'postgres'))) return pinned;
  throw new Error(
    `PostgreSQL ${POSTGRES_MAJOR} is not installed (${pinned}); install Debian's postgresql (scripts/setup.sh does)`,
  );
}

const asRoot = () => process.getuid?.() === 0;

/** The command run as the cluster's owner: `runuser` to `postgres` when this tool is root. */
function asOwner(program: string, args: string[]): string[] {
  const argv = [path.join(binDir(), program), ...args];
  return asRoot() ? ['runuser', '-u', PG_USER, '--', ...argv] : argv;
}

async function owner(): Promise<{ uid: number; gid: number } | undefined> {
  if (!asRoot()) return undefined;
  const r = await exec(['id', PG_USER]);
  const uid = /uid=(\d+)/.exec(r.stdout)?.[1];
  const gid = /gid=(\d+)/.exec(r.stdout)?.[1];
  if (r.code !== 0 || uid === undefined || gid === undefined) {
    throw new Error(
      `PostgreSQL cannot run as root and the user ${PG_USER} does not exist; install Debian's postgresql (it creates that user)`,
    );
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** The first folder above `dir` that the owner cannot pass through, if any. */
function closedAncestor(dir: string, who: { uid: number; gid: number }): string | undefined {
  for (let d = path.dirname(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const x = st.uid === who.uid ? st.mode & 0o100 : st.gid === who.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!x) return d;
    if (path.dirname(d) === d) return undefined;
  }
}

/** A folder for the cluster, owned by its user, mode 0700 (initdb and postgres insist on that). */
async function ownedFolder(dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
  const who = await owner();
  if (!who) return;
  fs.chownSync(dir, who.uid, who.gid);
  const closed = closedAncestor(dir, who);
  if (closed) {
    throw new Error(
      `PostgreSQL runs as the unprivileged user ${PG_USER}, who cannot reach ${dir}: ${closed} is closed to ` +
        `other users. Keep the state folder somewhere ${PG_USER} can pass through (OMNI_DEPLOY_STATE_DIR), ` +
        `or open that folder with chmod o+x ${closed}.`,
    );
  }
}

/** The password Temporal's role gets: made once, kept 0600 beside the cluster. */
export function databasePassword(layout: ProductionLayout): string {
  if (!fs.existsSync(layout.dbPassword)) {
    fs.mkdirSync(path.dirname(layout.dbPassword), { recursive: true });
    fs.writeFileSync(layout.dbPassword, randomBytes(24).toString('base64url'), { mode: 0o600 });
  }
  return fs.readFileSync(layout.dbPassword, 'utf8').trim();
}

export const isInitialized = (layout: ProductionLayout) =>
  fs.existsSync(path.join(layout.postgres.data, 'PG_VERSION'));

/**
 * initdb once: the superuser is Temporal's role (as the postgres image makes POSTGRES_USER), and
 * every connection, socket or TCP, needs its password.
 */
async function initialize(layout: ProductionLayout, password: string): Promise<void> {
  await ownedFolder(layout.postgres.dir);
  await ownedFolder(layout.postgres.socketDir);
  const pwfile = path.join(layout.postgres.dir, '.initdb-password');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  const who = await owner();
  if (who) fs.chownSync(pwfile, who.uid, who.gid);
  try {
    await execOk(
      asOwner('initdb', [
        '-D',
        layout.postgres.data,
        '-U',
        DB_USER,
        `--pwfile=${pwfile}`,
        '--auth-local=scram-sha-256',
        '--auth-host=scram-sha-256',
        '-E',
        'UTF8',
        '--locale=C.UTF-8',
      ]),
      `initdb of ${layout.postgres.data}`,
      { timeoutMs: 120_000 },
    );
  } finally {
    fs.rmSync(pwfile, { force: true });
  }
  // Addresses and port come from a file this tool rewrites before each start.
  fs.appendFileSync(
    path.join(layout.postgres.data, 'postgresql.conf'),
    "\n# omni-deploy: listen address, port and socket\ninclude_if_exists = 'omni-deploy.conf'\n",
  );
}

function writeListenSettings(layout: ProductionLayout, port: number): void {
  const file = path.join(layout.postgres.data, 'omni-deploy.conf');
  fs.writeFileSync(
    file,
    [
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${layout.postgres.socketDir.replaceAll("'", "''")}'`,
      '',
    ].join('\n'),
  );
  fs.chmodSync(file, 0o644);
}

/** The postmaster's PID while it runs (postmaster.pid, checked by pg_ctl status). */
export async function postgresPid(layout: ProductionLayout): Promise<number | undefined> {
  if (!isInitialized(layout)) return undefined;
  const r = await exec(asOwner('pg_ctl', ['-D', layout.postgres.data, 'status']));
  const pid = /PID: (\d+)/.exec(r.stdout)?.[1];
  return r.code === 0 && pid ? Number(pid) : undefined;
}

export const isReady = async (port: number) =>
  (await exec([path.join(binDir(), 'pg_isready'), '-q', '-h', '127.0.0.1', '-p', String(port)])).code === 0;

export interface PostgresReport {
  /** initdb ran now: the cluster did not exist. */
  created: boolean;
  started: boolean;
  pid: number;
}

/** The cluster exists and runs on `port` (127.0.0.1), made and started as needed. */
export async function ensurePostgres(layout: ProductionLayout, port: number): Promise<PostgresReport> {
  const password = databasePassword(layout);
  const created = !isInitialized(layout);
  if (created) await initialize(layout, password);
  const running = await postgresPid(layout);
  if (running !== undefined) {
    if (!(await isReady(port))) {
      throw new Error(
        `PostgreSQL of ${layout.postgres.data} runs (pid ${running}) but does not answer on 127.0.0.1:${port}: ` +
          `it was started with another port. Stop it first (deploy server stop).`,
      );
    }
    return { created, started: false, pid: running };
  }
  await ownedFolder(layout.postgres.socketDir);
  writeListenSettings(layout, port);
  await execOk(
    asOwner('pg_ctl', ['-D', layout.postgres.data, '-l', layout.postgres.log, '-w', '-t', '60', 'start']),
    `starting PostgreSQL (log: ${layout.postgres.log})`,
    { timeoutMs: 90_000 },
  );
  const pid = await postgresPid(layout);
  if (pid === undefined) throw new Error(`PostgreSQL did not stay up; see ${layout.postgres.log}`);
  return { created, started: true, pid };
}

/** Stop the cluster (fast: sessions are closed, a checkpoint is written); its data stays. */
export async function stopPostgres(layout: ProductionLayout): Promise<number | undefined> {
  const pid = await postgresPid(layout);
  if (pid === undefined) return undefined;
  await execOk(
    asOwner('pg_ctl', ['-D', layout.postgres.data, '-m', 'fast', '-w', '-t', '60', 'stop']),
    'stopping PostgreSQL',
    {
      timeoutMs: 90_000,
    },
  );
  return pid;
}

/** One SQL statement through psql over TCP as Temporal's role; its rows, tab-separated. */
export async function sql(
  port: number,
  password: string,
  database: string,
  statement: string,
): Promise<string> {
  const r = await execOk(
    [
      path.join(binDir(), 'psql'),
      '-X',
      '-q',
      '-t',
      '-A',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      DB_USER,
      '-d',
      database,
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      statement,
    ],
    `psql on ${database}`,
    { env: cleanEnvironment({ PGPASSWORD: password, PGCONNECT_TIMEOUT: '5' }), timeoutMs: 30_000 },
  );
  return r.stdout.trim();
}
