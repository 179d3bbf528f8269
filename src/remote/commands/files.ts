import { absolutePath, absolutePaths, outputLines } from './argv';

/**
 * Files and folders on a host (or in a container: the same argv runs through `docker exec`).
 * Every path is one argv word after `--`, so no name reads as an option or as shell syntax.
 */

/** `cat` of a small file; exit status non-zero when it is missing. */
export function readFile(path: string): string[] {
  return ['cat', '--', absolutePath(path, 'the file to read')];
}

export function fileExists(path: string): string[] {
  return ['test', '-f', absolutePath(path, 'the file to test')];
}

export function folderExists(path: string): string[] {
  return ['test', '-d', absolutePath(path, 'the folder to test')];
}

/** `mkdir -p`: folders and their missing parents; existing ones are fine. */
export function makeFolders(paths: readonly string[]): string[] {
  return ['mkdir', '-p', '--', ...absolutePaths(paths, 'a folder to make')];
}

/** `rm -f`: a missing file is fine (cleanup and retries run after partial work). */
export function removeFiles(paths: readonly string[]): string[] {
  return ['rm', '-f', '--', ...absolutePaths(paths, 'a file to remove')];
}

/** Prints each of `paths` that does not exist, one per line (device nodes, mostly). */
export function missingPaths(paths: readonly string[]): string[] {
  return ['sh', '-c', 'for p; do [ -e "$p" ] || echo "$p"; done', 'missing', ...paths];
}

export const parseMissingPaths = outputLines;

/**
 * Prints every regular file named `*.<extension>` below `folder`, one per line; nothing (and exit
 * 0) when the folder does not exist yet.
 */
export function listFiles(folder: string, extension: string): string[] {
  if (!/^[A-Za-z0-9]+$/.test(extension)) {
    throw new RangeError(`a file extension is letters and digits, got ${JSON.stringify(extension)}`);
  }
  return [
    'sh',
    '-c',
    '[ ! -d "$1" ] || find "$1" -type f -name "*.$2"',
    'list',
    absolutePath(folder, 'the folder to list'),
    extension,
  ];
}

export const parseFileList = outputLines;

/** Runs a script file with bash (our generated scripts are bash). */
export function runScript(path: string): string[] {
  return ['bash', absolutePath(path, 'the script')];
}

/**
 * Runs a script file with bash when it exists; exit 0 without it (a stop script of a deploy that
 * never got to write it).
 */
export function runScriptIfPresent(path: string): string[] {
  return ['sh', '-c', '[ ! -f "$1" ] || exec bash "$1"', 'run-if-present', absolutePath(path, 'the script')];
}

/**
 * Installs the files of a tar stream (stdin) under `root` in one command, however many there are:
 * unpacked into a fresh folder inside `root` (same filesystem), then each file that differs from
 * what is there is renamed into place (readers see the old bytes or the new, never half a file);
 * equal files are left alone. Folders must exist already (the caller claims them). Prints
 * `written N`, then `sha256sum` lines of every file of the stream as it now is under `root`.
 *
 * A fixed number of processes whatever the file count (two checksum runs, one chmod, one mv per
 * folder): a process per file (cmp, chmod, mv) made the ranktable write of 128 hosts × ~260
 * files the slowest step of a deploy (bench:scale).
 */
export function installFiles(root: string): string[] {
  return [
    'bash',
    '-c',
    `set -euo pipefail
root=$1
tmp=$(mktemp -d "$root/.incoming.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
tar -x -f - -C "$tmp"
cd "$tmp"
mapfile -t files < <(find . -type f | sed 's|^\\./||' | LC_ALL=C sort)
if [ "\${#files[@]}" -eq 0 ]; then echo "written 0"; exit 0; fi
declare -A new=() old=() group=()
while read -r h f; do new[$f]=$h; done < <(sha256sum -- "\${files[@]}")
present=()
for f in "\${files[@]}"; do [ -f "$root/$f" ] && [ ! -L "$root/$f" ] && present+=("$f"); done
if [ "\${#present[@]}" -gt 0 ]; then
  while read -r h f; do old[$f]=$h; done < <(cd "$root" && sha256sum -- "\${present[@]}")
fi
changed=()
for f in "\${files[@]}"; do [ "\${old[$f]:-}" = "\${new[$f]}" ] || changed+=("$f"); done
if [ "\${#changed[@]}" -gt 0 ]; then
  chmod 0644 -- "\${changed[@]}"
  for f in "\${changed[@]}"; do
    if [[ $f == */* ]]; then d=\${f%/*}; else d=.; fi
    group[$d]+="$f"$'\\n'
  done
  for d in "\${!group[@]}"; do
    mapfile -t batch < <(printf '%s' "\${group[$d]}")
    mv -f -t "$root/$d" -- "\${batch[@]}"
  done
fi
echo "written \${#changed[@]}"
cd "$root"
sha256sum -- "\${files[@]}"`,
    'install-files',
    absolutePath(root, 'the folder to install into'),
  ];
}

export interface InstalledFiles {
  written: number;
  /** sha256 per relative path, as the files now are on the host. */
  sha256: Map<string, string>;
}

export function parseInstalledFiles(stdout: string): InstalledFiles {
  const lines = outputLines(stdout);
  const m = /^written (\d+)$/.exec(lines[0] ?? '');
  if (!m) throw new Error(`unexpected output of install-files: ${JSON.stringify(stdout.slice(0, 200))}`);
  const sha256 = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const [hash, ...path] = line.split('  ');
    if (hash && path.length > 0) sha256.set(path.join('  '), hash);
  }
  return { written: Number(m[1]), sha256 };
}

/** A tar stream (stdout) of the files under `root` whose relative paths come on stdin, one a line. */
export function packFiles(root: string): string[] {
  return [
    'tar',
    '-c',
    '-f',
    '-',
    '-C',
    absolutePath(root, 'the folder to pack from'),
    '--verbatim-files-from',
    '-T',
    '-',
  ];
}
