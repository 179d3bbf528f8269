import { createHash } from 'node:crypto';
import {
  authorizeKey,
  makeFolders,
  parseRelayFolder,
  placeRelayKey,
  relayKeyLine,
  removeRelayFolders,
  revokeKeys,
} from '../remote/commands';
import { parseStats, relayRsyncArgv, type RsyncResult } from '../remote/rsync';
import { workerPath } from '../remote/workerPath';
import type { ActivityDeps } from './deps';
import { fail } from './failures';
import { withHeartbeat } from './heartbeat';
import { expiryDate, forgetSessionKey, knownHostLines, sessionKey } from './relayKeys';
import { TIMEOUTS } from './timeouts';
import type { EndRelaySessionInput, EndRelaySessionResult, HostRef } from './types';

/**
 * Which end of a host-to-host copy failed, as the failure type the workflow reads: a sender that
 * failed is not asked to relay again; either way the receiver is owed a direct copy from the
 * executor (src/plan/syncWaves.ts). Not retried: the direct copy is the retry.
 */
export const RELAY_SENDER_FAILED = 'RelaySenderFailed';
export const RELAY_RECEIVER_FAILED = 'RelayReceiverFailed';

function relayFailure(side: 'sender' | 'receiver', host: HostRef, what: string, err?: unknown): Error {
  // The rsync command line (a few hundred characters of ssh options) says nothing the type doesn't.
  const said = err instanceof Error ? err.message : String(err);
  const cause = err === undefined ? '' : `: ${said.replace(/`rsync [^`]*`/g, 'the copy')}`;
  return fail(
    side === 'sender' ? RELAY_SENDER_FAILED : RELAY_RECEIVER_FAILED,
    `${what} (${host.name})${cause}`,
  );
}

// What rsync on the sender prints when it could not reach or keep the receiver.
const RECEIVER_TROUBLE =
  /connect to host|Connection refused|Connection timed out|No route to host|Connection reset|Connection closed|connection unexpectedly closed|Broken pipe|Permission denied|Host key verification failed|Timeout, server/;

/**
 * Copy `dir` from `source` (which has it) to `target` over their own network, run from the
 * executor through both hosts' pooled connections: authorize the session key on the target,
 * place it and the target's verified host key on the source, then run rsync there.
 */
export async function relayCopy(
  { remote }: ActivityDeps,
  input: {
    source: HostRef;
    target: HostRef;
    session: string;
    dir: string;
    exclude: string[];
    /** Only this file of `dir` (an image archive), not the whole folder. */
    file?: string;
  },
  signal: AbortSignal,
  onOutput: (line: string) => void,
): Promise<RsyncResult> {
  const { source, target, session } = input;
  const rethrowCancel = (err: unknown) => {
    if (signal.aborted) throw signal.reason;
    return err;
  };
  const key = await sessionKey(session);
  const known = await knownHostLines(workerPath(target.knownHostsFile), target.address, target.port);
  if (known === '') {
    throw relayFailure(
      'receiver',
      target,
      `no host key of ${target.address} in ${target.knownHostsFile} to hand on`,
    );
  }
  try {
    const line = relayKeyLine(key.publicKey, session, source.address, expiryDate(new Date(), 2));
    await remote.exec(target, authorizeKey(line), { signal, timeoutMs: TIMEOUTS.quickCommand });
    await remote.exec(target, makeFolders([input.dir]), { signal, timeoutMs: TIMEOUTS.makeFolders });
  } catch (err) {
    throw relayFailure('receiver', target, 'could not authorize the relay key', rethrowCancel(err));
  }
  const knownHostsTag = createHash('sha256')
    .update(`${target.address} ${target.port}`)
    .digest('hex')
    .slice(0, 16);
  let folder: string;
  try {
    const placed = await remote.exec(source, placeRelayKey(session, knownHostsTag, known), {
      stdin: key.privateKey,
      signal,
      timeoutMs: TIMEOUTS.quickCommand,
    });
    folder = parseRelayFolder(placed.stdout);
  } catch (err) {
    throw relayFailure('sender', source, 'could not place the relay key', rethrowCancel(err));
  }
  let r;
  try {
    r = await remote.exec(
      source,
      relayRsyncArgv(target, { folder, knownHostsTag }, input.dir, input.exclude, input.file),
      {
        check: false,
        signal,
        timeoutMs: TIMEOUTS.codeCopy,
        onOutput,
      },
    );
  } catch (err) {
    // The command could not run or the sender went away in the middle.
    throw relayFailure('sender', source, `copy to ${target.name} lost`, rethrowCancel(err));
  }
  // 24: files vanished while being sent, as with the executor's own rsync.
  if (r.code === 0 || r.code === 24) return parseStats(r.stdout);
  const said = r.stderr.trim().split('\n').slice(-3).join(' | ');
  const side = r.code !== 127 && RECEIVER_TROUBLE.test(r.stderr) ? 'receiver' : 'sender';
  throw relayFailure(
    side,
    side === 'sender' ? source : target,
    `rsync from ${source.name} to ${target.name} exited ${r.code ?? r.signal}: ${said}`,
  );
}

/**
 * `localDir` of the executor (or only its `file`) into `remoteDir` on `target` — from the executor
 * itself, or with `relay` from a host that has it at `remoteDir` already (relayCopy). What sync_code
 * and the image archive share.
 */
export async function copyToHost(
  deps: ActivityDeps,
  input: {
    target: HostRef;
    localDir: string;
    remoteDir: string;
    exclude: string[];
    file?: string;
    relay?: { source: HostRef; session: string };
  },
  signal: AbortSignal,
  onOutput: (line: string) => void,
): Promise<RsyncResult> {
  const { target, remoteDir, exclude, file } = input;
  if (input.relay) {
    return relayCopy(deps, { ...input.relay, target, dir: remoteDir, exclude, file }, signal, onOutput);
  }
  await deps.remote.exec(target, makeFolders([remoteDir]), { signal, timeoutMs: TIMEOUTS.makeFolders });
  return deps.remote.rsync(target, {
    direction: 'push',
    localDir: input.localDir,
    remoteDir,
    exclude,
    file,
    signal,
    onOutput,
  });
}

/**
 * The end of a session: its key leaves every receiver's authorized_keys and every sender's home,
 * and the executor. Best effort per host — a host that is down now is reported, and clean_up
 * removes what is left there (cleanupHost) — so the end never fails the sync it ends.
 */
export async function endRelaySession(
  { remote }: ActivityDeps,
  input: EndRelaySessionInput,
): Promise<EndRelaySessionResult> {
  return withHeartbeat(async (signal) => {
    const unreachable: { host: string; message: string }[] = [];
    const attempt = async (host: HostRef, argv: string[]): Promise<number> => {
      try {
        await remote.exec(host, argv, { signal, timeoutMs: TIMEOUTS.quickCommand });
        return 1;
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        unreachable.push({ host: host.name, message: err instanceof Error ? err.message : String(err) });
        return 0;
      }
    };
    const done = await Promise.all([
      ...input.receivers.map((h) => attempt(h, revokeKeys({ session: input.session }))),
      ...input.senders.map((h) => attempt(h, removeRelayFolders({ session: input.session }))),
    ]);
    forgetSessionKey(input.session);
    return { cleaned: done.reduce((a, b) => a + b, 0), unreachable };
  });
}
