'use strict';
// Preload (`node -r`) for test/unit/cliModules.test.ts: at exit, writes the path of every
// CommonJS module the process loaded, one a line, to $RECORD_MODULES_TO.
const fs = require('node:fs');

const out = process.env.RECORD_MODULES_TO;
if (out) {
  process.on('exit', () => fs.writeFileSync(out, `${Object.keys(require.cache).join('\n')}\n`));
}
