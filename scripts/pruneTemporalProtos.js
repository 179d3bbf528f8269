'use strict';
// An esbuild plugin for the client SDK bundle (scripts/cachedBundle.js): @temporalio/proto builds
// protobufjs reflection for every Temporal message at load and resolves it all on the first
// request, about a third of `deploy status`'s CPU. Three parts of it a client never touches:
//   temporal.api.cloud  the Temporal Cloud operations API (the SDK's CloudOperationsClient);
//   coresdk             the worker's bridge to its native core;
//   rpc method options  grpc-gateway's HTTP annotations, which gRPC calls do not read.
// Dropping them halves the JSON (578 → 323 KB) and saves about 80 ms a command. The bundle test
// (test/unit/clientSdkBundle.test.ts) resolves every remaining type, so a reference into what was
// dropped fails the build's tests rather than a command.
const fs = require('node:fs');

const JSON_MODULE = /[\\/]@temporalio[\\/]proto[\\/]protos[\\/]json-module\.js$/;
const START = '.addJSON(';
const END = '\n});\n';

/** The same module, with the JSON passed to `addJSON` pruned. */
function pruneJsonModule(source) {
  const start = source.indexOf(START);
  const end = source.indexOf(END, start);
  if (start < 0 || end < 0) throw new Error('@temporalio/proto json-module.js: no addJSON({...}) found');
  const from = start + START.length;
  const json = JSON.parse(source.slice(from, end + 2));
  delete json.coresdk;
  if (!json.temporal?.nested?.api?.nested?.cloud)
    throw new Error('@temporalio/proto: temporal.api.cloud not found');
  delete json.temporal.nested.api.nested.cloud;
  const stripMethodOptions = (node) => {
    if (!node || typeof node !== 'object') return;
    if (node.methods) {
      for (const method of Object.values(node.methods)) {
        delete method.options;
        delete method.parsedOptions;
      }
    }
    for (const child of Object.values(node)) stripMethodOptions(child);
  };
  stripMethodOptions(json);
  return source.slice(0, from) + JSON.stringify(json) + source.slice(end + 2);
}

function pruneTemporalProtos() {
  return {
    name: 'prune-temporal-protos',
    setup(build) {
      build.onLoad({ filter: JSON_MODULE }, (args) => ({
        contents: pruneJsonModule(fs.readFileSync(args.path, 'utf8')),
        loader: 'js',
      }));
    },
  };
}

module.exports = { pruneJsonModule, pruneTemporalProtos };
