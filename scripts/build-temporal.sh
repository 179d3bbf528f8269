#!/usr/bin/env bash
# Builds Temporal from the Go module proxy into .tools/bin, each binary pinned:
#   temporal            the CLI v1.5.1 (dev server + Web UI; what the tests and `deploy demo` use)
#   temporal-server     go.temporal.io/server, the server docker-compose.temporal.yml runs
#   temporal-sql-tool   its schema tool (admin-tools' temporal-sql-tool: the same module and version)
#   temporal-ui-server  github.com/temporalio/ui-server, the Web UI docker-compose.temporal.yml runs
# The last three are the production topology (`deploy server start --backend postgres`); their
# versions are the compose file's and src/temporal/production/topology.ts's (a unit test keeps the
# three in step). Idempotent: a binary whose embedded module version is already the pinned one is
# left alone, so the second run costs a few `go version -m` calls.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI_VERSION=1.5.1 # the newest tag `go install` accepts: later tags carry a `replace` directive
SERVER_VERSION=1.31.0
UI_VERSION=2.49.1
BIN_DIR="$PWD/.tools/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0

need_go() {
  command -v go >/dev/null || { echo "go is required to build $1 (Go 1.26.2 or newer)" >&2; exit 1; }
}

# has BINARY MODULE VERSION: the binary exists and was built from that module at that version.
has() {
  [ -x "$BIN_DIR/$1" ] && command -v go >/dev/null &&
    go version -m "$BIN_DIR/$1" 2>/dev/null | grep -qP "^\s+mod\s+\Q$2\E\s+v\Q$3\E(\s|$)"
}

# install NAME MODULE/PACKAGE VERSION MODULE: `go install` names the binary after the package's
# last element (`server` twice, `sql`), so it is built in a scratch GOBIN and moved under its name.
install() {
  local name=$1 pkg=$2 version=$3 module=$4
  if has "$name" "$module" "$version"; then
    echo "$name $version already at $BIN_DIR/$name"
    return
  fi
  need_go "$name"
  echo "building $name v$version into $BIN_DIR (cold: several minutes)"
  local scratch start
  scratch=$(mktemp -d)
  start=$(date +%s)
  GOBIN="$scratch" go install "$pkg@v$version"
  mkdir -p "$BIN_DIR"
  mv "$scratch/$(basename "$pkg")" "$BIN_DIR/$name"
  rmdir "$scratch"
  echo "built $name v$version in $(($(date +%s) - start)) s"
}

if [ -x "$BIN_DIR/temporal" ] && "$BIN_DIR/temporal" --version 2>/dev/null | grep -q "temporal version $CLI_VERSION "; then
  echo "temporal CLI $CLI_VERSION already at $BIN_DIR/temporal"
else
  need_go "the Temporal CLI"
  echo "building temporal CLI v$CLI_VERSION into $BIN_DIR (cold: a few minutes)"
  mkdir -p "$BIN_DIR"
  start=$(date +%s)
  GOBIN="$BIN_DIR" go install -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$CLI_VERSION" \
    "github.com/temporalio/cli/cmd/temporal@v$CLI_VERSION"
  echo "built $("$BIN_DIR/temporal" --version) in $(($(date +%s) - start)) s"
fi

install temporal-server go.temporal.io/server/cmd/server "$SERVER_VERSION" go.temporal.io/server
install temporal-sql-tool go.temporal.io/server/cmd/tools/sql "$SERVER_VERSION" go.temporal.io/server
install temporal-ui-server github.com/temporalio/ui-server/v2/cmd/server "$UI_VERSION" github.com/temporalio/ui-server/v2
