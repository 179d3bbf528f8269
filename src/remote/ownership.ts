/**
 * What omni-deploy made on a host, and nothing else, is what its cleanup removes.
 *
 * Every folder the tool creates under a managed folder (SCRIPTS_PATH, ranktable_save_path) and
 * every file it writes there is recorded in a per-cluster manifest on the host *before* it is
 * created, so a crash between the two leaves at worst an entry for something that never came to
 * be. Cleanup removes the recorded files, then the recorded folders that are empty (deepest
 * first, `rmdir`: a folder holding anything the tool did not make stays, with that content). It
 * never removes "everything under a configured path".
 *
 * Manifest: `$HOME/.omni-deploy/clusters/<cluster>.manifest`, one line per entry,
 * `<inventory host> TAB file|dir TAB <managed root> TAB <path>`. Hosts sharing a machine (the
 * seed's p0 and c0) share the file; every change holds `flock` on `<manifest>.lock`, and appends
 * are single short writes. Paths are validated at plan time (absolute, normalised, no control or
 * shell-special characters), so a line can always be split on tabs.
 *
 * Symbolic links: nothing at or below a managed root may be a link when the tool creates, writes
 * or removes there — a link planted inside a managed folder that leads out of it is never
 * followed. Links above the root (a host's `/data -> /mnt/disk`) are the host's layout and fine.
 *
 * The scripts are pure strings run with `sh -c SCRIPT ownership <cluster> <host> args…`.
 */

/** Everything before an action: arguments, manifest location, helpers. */
const PRELUDE = `set -eu
cluster=$1; host=$2; shift 2
state="$HOME/.omni-deploy/clusters"
m="$state/$cluster.manifest"
tab=$(printf '\\t')
# True when no component of $2 at or below the managed root $1 is a symbolic link. (sh has no
# local variables: these names are the function's own.)
unlinked() {
  _root=$1; _path=$2
  case $_path in "$_root"|"$_root"/*) ;; *) return 0 ;; esac
  while :; do
    [ -L "$_path" ] && return 1
    [ "$_path" = "$_root" ] && return 0
    _path=\${_path%/*}
  done
}
# The lock is taken on the file still at $m.lock: a cleanup that emptied the manifest removes the
# lock file and the folder while holding it, and a machine mate that opened the file before that
# would otherwise go on, locked, into a folder that is gone.
locked() {
  _tries=0
  while :; do
    # \`mkdir -p\` walks the path one folder at a time: a mate's cleanup that removes the folders
    # in between makes it fail ("cannot create directory"). Try again; a failure that stays (no
    # permission, a full disk) is reported by the last try.
    if ! mkdir -p "$state" 2>/dev/null; then
      _tries=$((_tries + 1))
      [ "$_tries" -lt 20 ] && continue
      mkdir -p "$state"
    fi
    # A mate's cleanup may remove the folder between the two lines: open again then (\`command\`
    # keeps a failed redirection of exec from ending the script).
    { command exec 9>>"$m.lock"; } 2>/dev/null || continue
    flock 9
    [ ! -e "/proc/$$/fd/9" ] || [ "$m.lock" -ef "/proc/$$/fd/9" ] && return 0
    exec 9>&-
  done
}
# For the scripts that only read or shrink the manifest: under the lock, a manifest that a machine
# mate's cleanup emptied and removed while this one waited means nothing is left to do here (the
# lock file this call made goes again, and the state folder when empty).
gone_while_waiting() {
  [ -f "$m" ] && return 1
  rm -f -- "$m.lock"
  rmdir -- "$state" "\${state%/*}" 2>/dev/null || true
  return 0
}
`;

/**
 * `root dir…`: create the folders (and their missing parents), recording each one this call
 * creates; folders that exist already are someone's (maybe the operator's) and are not recorded.
 * Fails when a component at or below the root is a symbolic link.
 */
export const CLAIM_DIRS = `${PRELUDE}
locked
root=$1; shift
for d; do
  p=
  rest=\${d#/}
  while [ -n "$rest" ]; do
    part=\${rest%%/*}
    [ "$part" = "$rest" ] && rest= || rest=\${rest#*/}
    p="$p/$part"
    if ! unlinked "$root" "$p"; then
      echo "refusing to create $d: $p is a symbolic link inside the managed folder $root" >&2
      exit 3
    fi
    if [ ! -e "$p" ]; then
      printf '%s\\t%s\\t%s\\t%s\\n' "$host" dir "$root" "$p" >> "$m"
      mkdir -- "$p"
    fi
  done
  [ -d "$d" ] || { echo "$d exists and is not a folder" >&2; exit 3; }
done
`;

/**
 * `root file…`, or `root` with the files on stdin one a line (a ranktable set of a large cluster
 * is a thousand paths, more than one command line should carry): record files about to be
 * written (by SFTP, a script, a program in a container). One pass over the manifest, however many.
 */
export const RECORD_FILES = `${PRELUDE}
locked
root=$1; shift
list="$m.record.$$"
trap 'rm -f -- "$list"' EXIT
if [ "$#" -eq 0 ]; then cat > "$list"; else printf '%s\\n' "$@" > "$list"; fi
while IFS= read -r f; do
  [ -n "$f" ] || continue
  if ! unlinked "$root" "\${f%/*}"; then
    echo "refusing to write $f: a folder on its way inside the managed folder $root is a symbolic link" >&2
    exit 3
  fi
done < "$list"
awk -v h="$host" -v r="$root" -v m="$m" '
  BEGIN { while ((getline line < m) > 0) { split(line, a, "\\t"); if (a[1] == h && a[2] == "file" && a[3] == r) have[a[4]] = 1 } }
  $0 != "" && !($0 in have) { have[$0] = 1; printf "%s\\t%s\\t%s\\t%s\\n", h, "file", r, $0 }
' "$list" >> "$m"
`;

/**
 * `path…`: remove those of the given files that the manifest records (any host of the cluster);
 * others are left alone. Prints the removed paths.
 */
export const REMOVE_OWNED_FILES = `${PRELUDE}
[ -f "$m" ] || exit 0
locked
gone_while_waiting && exit 0
for f; do
  root=$(awk -F'\\t' -v f="$f" '$2 == "file" && $4 == f { print $3; exit }' "$m")
  [ -n "$root" ] || continue
  unlinked "$root" "\${f%/*}" || continue
  rm -f -- "$f"
  echo "$f"
  awk -F'\\t' -v f="$f" '!($2 == "file" && $4 == f)' "$m" > "$m.new"
  mv -f -- "$m.new" "$m"
done
`;

/**
 * Remove this host's recorded files, then every recorded folder of the cluster on this machine
 * that is empty now (deepest first). Entries of things still there (a folder with the operator's
 * files in it, a machine mate's files) stay in the manifest; an empty manifest goes, and with it
 * the tool's state folder when empty. Prints a summary line.
 */
export const CLEANUP = `${PRELUDE}
nothing="no manifest: nothing recorded for $cluster on this machine"
if [ ! -f "$m" ]; then echo "$nothing"; exit 0; fi
locked
if gone_while_waiting; then echo "$nothing"; exit 0; fi
files=0 dirs=0 kept=0
awk -F'\\t' -v h="$host" '$1 == h && $2 == "file" { print $3 "\\t" $4 }' "$m" > "$m.files"
while IFS="$tab" read -r root f; do
  if unlinked "$root" "\${f%/*}" && { [ -L "$f" ] || [ ! -d "$f" ]; }; then
    rm -f -- "$f" && files=$((files + 1))
  fi
done < "$m.files"
awk -F'\\t' '$2 == "dir" { print length($4) "\\t" $3 "\\t" $4 }' "$m" | sort -rn | cut -f2- > "$m.dirs"
while IFS="$tab" read -r root d; do
  if [ -d "$d" ] && [ ! -L "$d" ] && unlinked "$root" "$d" && rmdir -- "$d" 2>/dev/null; then
    dirs=$((dirs + 1))
  fi
done < "$m.dirs"
rm -f -- "$m.files" "$m.dirs"
# Keep what still exists and is not this host's removed file.
: > "$m.new"
while IFS="$tab" read -r h kind root p; do
  if [ -e "$p" ] || [ -L "$p" ]; then
    printf '%s\\t%s\\t%s\\t%s\\n' "$h" "$kind" "$root" "$p" >> "$m.new"
    [ "$h" = "$host" ] && kept=$((kept + 1))
  fi
done < "$m"
mv -f -- "$m.new" "$m"
if [ ! -s "$m" ]; then
  rm -f -- "$m" "$m.lock"
  rmdir -- "$state" "\${state%/*}" 2>/dev/null || true
fi
echo "removed $files file(s) and $dirs folder(s); kept $kept entr(ies) still in use"
`;

/** Who owns what on a host: the manifest is per cluster, its entries per inventory host. */
export interface Owner {
  cluster: string;
  /** Inventory host name (p0, c0…): machine mates share the manifest, not their entries. */
  host: string;
}

/** argv running one of the scripts above for `owner`. */
export function ownershipArgv(script: string, owner: Owner, args: readonly string[]): string[] {
  return ['sh', '-c', script, 'ownership', owner.cluster, owner.host, ...args];
}

/** The cleanup summary line: counts for the step's note. */
export function parseCleanupSummary(stdout: string): { files: number; dirs: number; kept: number } {
  const m = /removed (\d+) file\(s\) and (\d+) folder\(s\); kept (\d+)/.exec(stdout);
  return m ? { files: Number(m[1]), dirs: Number(m[2]), kept: Number(m[3]) } : { files: 0, dirs: 0, kept: 0 };
}
