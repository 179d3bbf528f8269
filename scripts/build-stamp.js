'use strict';
// Whether dist/ (`npm run build`) is at least as new as the sources it is built from. bin/deploy
// asks before every command, so this stays cheap: one stat per file and folder under src/
// (about 140), no hashing, nothing read.
const fs = require('node:fs');
const path = require('node:path');

/** Written last by scripts/build.js, with the time the build started as its mtime. */
const stampFile = (root) => path.join(root, 'dist', '.build-stamp');

/** Besides every file and folder under src/: the simulated cluster's TypeScript and the build's inputs. */
function inputs(root) {
  const sim = path.join(root, 'sim');
  return [
    ...fs
      .readdirSync(sim)
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.join(sim, f)),
    ...['package-lock.json', 'tsconfig.json', 'tsconfig.build.json'].map((f) => path.join(root, f)),
  ];
}

/** The newest mtime among the sources; a folder's mtime covers files added, removed or renamed. */
function newestSourceMtimeMs(root) {
  let newest = 0;
  const visit = (dir) => {
    newest = Math.max(newest, fs.statSync(dir).mtimeMs);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(p);
      else newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  visit(path.join(root, 'src'));
  for (const f of inputs(root)) newest = Math.max(newest, fs.statSync(f).mtimeMs);
  return newest;
}

/** True when a build finished and no source changed since it started. */
function isBuildFresh(root) {
  try {
    return newestSourceMtimeMs(root) < fs.statSync(stampFile(root)).mtimeMs;
  } catch {
    return false;
  }
}

/** Stamp a finished build with the time it started: a source saved during the build makes it stale. */
function writeStamp(root, startedMs) {
  const file = stampFile(root);
  fs.writeFileSync(file, `built from the sources as they were at ${new Date(startedMs).toISOString()}\n`);
  fs.utimesSync(file, startedMs / 1000, startedMs / 1000);
}

function removeStamp(root) {
  fs.rmSync(stampFile(root), { force: true });
}

module.exports = { isBuildFresh, newestSourceMtimeMs, removeStamp, writeStamp };
