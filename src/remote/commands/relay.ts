/**
 * Host-to-host copies (issue 16): a host that has the code tree sends it on to another with
 * rsync over ssh, with a key made for one sync session. The target authorizes that key for the
 * session only — `restrict` (no forwarding, no terminal), `from=` the sending host, and a comment
 * naming the session — and the sender keeps it under its home, beside the target's host key as
 * the executor verified it. Both are removed when the session ends, and by clean_up whatever a
 * session that never ended left: the comment marks every line this tool added, so nothing else
 * in authorized_keys is touched.
 */

/** Every authorized_keys line the relays add ends with this, then the session. */
export const RELAY_KEY_MARK = 'omni-deploy-relay:';

/** Under the login's home on a sending host: one folder per session, removed with it. */
export const RELAY_HOME_FOLDER = '.omni-deploy/relay';

/** `<cluster>@<id>`: whose session it is (clean_up of a cluster removes its own), and which. */
const SESSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}@[a-z0-9]{1,32}$/;
const CLUSTER = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function checkSession(session: string): string {
  if (!SESSION.test(session)) {
    throw new RangeError(`a relay session is <cluster>@<id>, got ${JSON.stringify(session)}`);
  }
  return session;
}

export function relaySession(cluster: string, id: string): string {
  return checkSession(`${cluster}@${id}`);
}

/** One session's keys and folder, or every session of a cluster (what clean_up removes). */
export type RelayScope = { session: string } | { cluster: string };

function scopeWord(scope: RelayScope): string {
  if ('session' in scope) return checkSession(scope.session);
  if (!CLUSTER.test(scope.cluster))
    throw new RangeError(`not a cluster name: ${JSON.stringify(scope.cluster)}`);
  return `${scope.cluster}@`;
}

/** An IPv4/IPv6 address or host name, as sshd matches `from=` against it. */
const FROM = /^[A-Za-z0-9.:_-]{1,253}$/;

/**
 * The authorized_keys line for a session's key: usable only from `from`, for nothing but running
 * commands (rsync's server side), until `expires` (YYYYMMDD, the target's local time: a day of
 * slack covers its time zone) — so a session whose end never ran still closes by itself.
 */
export function relayKeyLine(publicKey: string, session: string, from: string, expires: string): string {
  checkSession(session);
  if (!FROM.test(from))
    throw new RangeError(`a relay source address has no quotes or spaces, got ${JSON.stringify(from)}`);
  if (!/^\d{8}$/.test(expires)) throw new RangeError(`expiry is YYYYMMDD, got ${JSON.stringify(expires)}`);
  const key = publicKey.trim().split(/\s+/);
  if (key.length < 2 || !/^ssh-ed25519$/.test(key[0]!) || !/^[A-Za-z0-9+/=]+$/.test(key[1]!)) {
    throw new RangeError('a relay key is an ssh-ed25519 public key');
  }
  return `restrict,from="${from}",expiry-time="${expires}" ${key[0]} ${key[1]} ${RELAY_KEY_MARK}${session}`;
}

/**
 * Appends `line` to the login's authorized_keys unless it is there (a retried step adds it once),
 * making ~/.ssh and the file private if they are new, and ending a last line that has no newline
 * first (so the new line does not join it).
 */
export function authorizeKey(line: string): string[] {
  if (line.includes('\n')) throw new RangeError('an authorized_keys line has no newline');
  return [
    'sh',
    '-c',
    [
      'umask 077',
      'mkdir -p "$HOME/.ssh"',
      'f="$HOME/.ssh/authorized_keys"',
      'touch "$f"',
      'grep -qxF -- "$1" "$f" && exit 0',
      '[ ! -s "$f" ] || [ -z "$(tail -c 1 "$f")" ] || echo >> "$f"',
      'printf "%s\\n" "$1" >> "$f"',
    ].join('; '),
    'authorize-relay',
    line,
  ];
}

/**
 * Removes the relay lines of `scope` from the login's authorized_keys, in place (its mode and
 * owner stay). A line is one of them only when the mark is its last word: no other line changes.
 */
export function revokeKeys(scope: RelayScope): string[] {
  const word = scopeWord(scope).replace(/\./g, '\\.');
  const pattern = ` ${RELAY_KEY_MARK}${word}${'session' in scope ? '' : '[a-z0-9]+'}$`;
  return [
    'sh',
    '-c',
    [
      'f="$HOME/.ssh/authorized_keys"',
      '[ -f "$f" ] || exit 0',
      'grep -qE -- "$1" "$f" || exit 0',
      'grep -vE -- "$1" "$f" > "$f.omni-deploy-relay.tmp"',
      'cat "$f.omni-deploy-relay.tmp" > "$f"',
      'rm -f "$f.omni-deploy-relay.tmp"',
    ].join('; '),
    'revoke-relay',
    pattern,
  ];
}

/**
 * On the sending host: the session's folder under the login's home with the private key (stdin)
 * and, in a file of its own per receiver (`knownHostsTag`), the receiver's host key lines — all
 * private, each written aside and renamed, since a sender serves several receivers at once.
 * Prints the folder's absolute path.
 */
export function placeRelayKey(session: string, knownHostsTag: string, knownHostsLines: string): string[] {
  checkSession(session);
  if (!/^[a-f0-9]{8,64}$/.test(knownHostsTag)) throw new RangeError('a known_hosts tag is hex');
  return [
    'sh',
    '-c',
    [
      'umask 077',
      `d="$HOME/${RELAY_HOME_FOLDER}/$1"`,
      'mkdir -p "$d"',
      'cat > "$d/key.$$"',
      'mv -f "$d/key.$$" "$d/key"',
      'printf "%s\\n" "$3" > "$d/known_hosts.$2.$$"',
      'mv -f "$d/known_hosts.$2.$$" "$d/known_hosts.$2"',
      'printf "%s\\n" "$d"',
    ].join(' && '),
    'place-relay-key',
    session,
    knownHostsTag,
    knownHostsLines,
  ];
}

/** The folder placeRelayKey printed: one absolute path. */
export function parseRelayFolder(stdout: string): string {
  const dir = stdout.trim();
  if (!dir.startsWith('/') || dir.includes('\n'))
    throw new Error(`unexpected relay folder ${JSON.stringify(stdout)}`);
  return dir;
}

/** Removes the sending host's folders of `scope` (and the relay folder, when that leaves it empty). */
export function removeRelayFolders(scope: RelayScope): string[] {
  const word = scopeWord(scope);
  return [
    'sh',
    '-c',
    [
      `r="$HOME/${RELAY_HOME_FOLDER}"`,
      // A session's folder is its name; a cluster's, every name that starts with `<cluster>@`.
      'for d in "$r/$2"*; do [ -e "$d" ] || continue; if [ "$1" = cluster ] || [ "${d#"$r/"}" = "$2" ]; then rm -rf -- "$d"; fi; done',
      // Only the relay folder itself: ~/.omni-deploy holds the ownership manifests too, which a
      // machine mate's step may be writing this very moment.
      'rmdir "$r" 2>/dev/null',
      'exit 0',
    ].join('; '),
    'remove-relay',
    'session' in scope ? 'session' : 'cluster',
    word,
  ];
}
