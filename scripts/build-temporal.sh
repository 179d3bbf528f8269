#!/usr/bin/env bash
# Builds the Temporal CLI (dev server + Web UI) from the Go module proxy into .tools/bin.
# Idempotent: does nothing when the pinned version is already there.
# v1.5.1 is the newest tag `go install` accepts: later tags carry a `replace` directive.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=1.5.1
BIN="$PWD/.tools/bin/temporal"
if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "temporal version $VERSION "; then
  echo "temporal CLI $VERSION already at $BIN"
  exit 0
fi
command -v go >/dev/null || { echo "go is required to build the Temporal CLI" >&2; exit 1; }
echo "building temporal CLI v$VERSION into $(dirname "$BIN") (cold: a few minutes)"
mkdir -p "$(dirname "$BIN")"
start=$(date +%s)
GOTOOLCHAIN=local CGO_ENABLED=0 GOBIN="$(dirname "$BIN")" \
  go install -ldflags "-X github.com/temporalio/cli/temporalcli.Version=$VERSION" \
  "github.com/temporalio/cli/cmd/temporal@v$VERSION"
echo "built $("$BIN" --version) in $(( $(date +%s) - start )) s"
