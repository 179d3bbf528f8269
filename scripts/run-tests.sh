#!/usr/bin/env bash
# Runs the test suites with Node's own test runner (TypeScript through tsx).
#   scripts/run-tests.sh            all suites: unit, workflow, e2e
#   scripts/run-tests.sh unit e2e   only those
# Unit tests run in parallel; workflow and e2e tests one file at a time, because they start real
# servers and simulated hosts that must not compete for ports, namespaces and the two cores.
set -euo pipefail
cd "$(dirname "$0")/.."
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit workflow e2e)
mkdir -p test-artifacts
files_of() { find "test/$1" -name '*.test.ts' 2>/dev/null | sort; }
all=()
passed=0; failed=0; skipped=0
summary=$(mktemp); trap 'rm -f "$summary"' EXIT
# Node's spec reporter ends each run with "ℹ pass N" / "ℹ fail N" / "ℹ skipped N"; add them up.
count() { awk -v k="$1" '$1 == "ℹ" && $2 == k { n += $3 } END { print n + 0 }' "$summary"; }
# A failing before() hook leaves its tests "cancelled", not "fail": they did not pass, so they count as failed.
failures() { echo $(( $(count fail) + $(count cancelled) )); }
for s in "${suites[@]}"; do
  mapfile -t f < <(files_of "$s")
  [ ${#f[@]} -gt 0 ] || continue
  case "$s" in
    unit) conc=2 ;;
    *) conc=1 ;;
  esac
  echo "== $s: ${#f[@]} files"
  rc=0
  node --import tsx --test --test-concurrency="$conc" --test-reporter=spec "${f[@]}" 2>&1 | tee -a "$summary" ||
    rc=${PIPESTATUS[0]}
  all+=("${f[@]}")
  if [ "$rc" != 0 ]; then
    echo "== $s failed"
    echo "tests: $(count pass) passed, $(failures) failed, $(count skipped) skipped"
    exit "$rc"
  fi
done
echo "== all suites passed (${#all[@]} files)"
echo "tests: $(count pass) passed, $(failures) failed, $(count skipped) skipped"
