#!/usr/bin/env bash
# Runs the test tiers with Node's own test runner (TypeScript through tsx), one process per file,
# and records each file's wall time (test/runner.ts says how):
#   scripts/run-tests.sh                 all tiers: unit, workflow, e2e
#   scripts/run-tests.sh unit workflow   only those
# Unit and workflow files run two at a time (the workflow files share one Temporal dev server),
# e2e files one at a time: they bring up simulated clusters that compete for the two cores.
# Writes test-artifacts/test-times.json and JUnit XML per file in test-artifacts/junit/; prints the
# ten slowest files and ends with `tests: N passed, N failed, N skipped`.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node --import tsx test/runner.ts "$@"
