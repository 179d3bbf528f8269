'use strict';
// Preload for bench/cli.ts (NODE_OPTIONS=--require): at exit, appends the process's own CPU time
// (user + system, in microseconds) to $BENCH_CPU_FILE — what `time` would report as user + sys.
const fs = require('node:fs');

const out = process.env.BENCH_CPU_FILE;
if (out) {
  process.on('exit', () => {
    const { user, system } = process.cpuUsage();
    fs.appendFileSync(out, `${user + system}\n`);
  });
}
