import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { checkSession, RELAY_KEY_MARK } from '../remote/commands';
import { stateDir } from '../shared/paths';

const run = promisify(execFile);

/**
 * The key pair of one relay session (issue 16), made on the executor the first time a copy of
 * the session needs it and kept under the state folder until the session ends. It never enters a
 * workflow or activity payload: the activity that places it on a sending host reads it here.
 */
export interface SessionKey {
  privateKey: string;
  publicKey: string;
}

const folderOf = (session: string) => path.join(stateDir(), 'relay', checkSession(session));

/** Copies of one worker asking at once share one ssh-keygen. */
const making = new Map<string, Promise<SessionKey>>();

export function sessionKey(session: string): Promise<SessionKey> {
  let key = making.get(session);
  if (!key) {
    key = loadOrMake(session);
    making.set(session, key);
    key.catch(() => making.delete(session));
  }
  return key;
}

async function loadOrMake(session: string): Promise<SessionKey> {
  const dir = folderOf(session);
  if (!fs.existsSync(path.join(dir, 'key.pub'))) {
    // Made aside and renamed into place: another worker on this machine may be doing the same,
    // and a reader must never see half a key. The first rename wins; the loser's pair goes.
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    const partial = fs.mkdtempSync(`${dir}.partial-`);
    try {
      await run('ssh-keygen', [
        '-q',
        '-t',
        'ed25519',
        '-N',
        '',
        '-C',
        `${RELAY_KEY_MARK}${session}`,
        '-f',
        path.join(partial, 'key'),
      ]);
      try {
        fs.renameSync(partial, dir);
      } catch (err) {
        if (!fs.existsSync(path.join(dir, 'key.pub'))) throw err;
      }
    } finally {
      fs.rmSync(partial, { recursive: true, force: true });
    }
  }
  return {
    privateKey: fs.readFileSync(path.join(dir, 'key'), 'utf8'),
    publicKey: fs.readFileSync(path.join(dir, 'key.pub'), 'utf8').trim(),
  };
}

/** The session's key pair leaves the executor with the session. */
export function forgetSessionKey(session: string): void {
  making.delete(session);
  fs.rmSync(folderOf(session), { recursive: true, force: true });
}

/**
 * The lines of `knownHostsFile` (the executor's, which verified the host) that name the host at
 * address:port — hashed names included, as ssh-keygen finds them — for the sending host to check
 * the target by exactly the key the executor trusts. Empty when the file does not know it.
 */
export async function knownHostLines(knownHostsFile: string, address: string, port: number): Promise<string> {
  const name = port === 22 ? address : `[${address}]:${port}`;
  try {
    const { stdout } = await run('ssh-keygen', ['-F', name, '-f', knownHostsFile]);
    return stdout
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#'))
      .join('\n');
  } catch {
    // ssh-keygen -F exits 1 when the host is not in the file (or the file is missing).
    return '';
  }
}

/** YYYYMMDD `days` after now (UTC): an authorized_keys expiry-time with a day of slack either way. */
export function expiryDate(now: Date, days: number): string {
  const d = new Date(now.getTime() + days * 86_400_000);
  return `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
}
