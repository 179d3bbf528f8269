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
