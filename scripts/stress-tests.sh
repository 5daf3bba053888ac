#!/usr/bin/env bash
# Runs the whole pytest suite RUNS times (default 3) in a row while another process keeps one
# core busy, and prints pass/fail per run. A suite whose assertions wait for states, never for
# time, passes every run. Not part of CI (it takes three suites' time); run it after touching a test.
#
#   bash scripts/stress-tests.sh            # 3 runs
#   RUNS=5 bash scripts/stress-tests.sh -k telegram   # extra arguments go to pytest
set -uo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
RUNS=${RUNS:-3}
# One core kept busy for as long as this script runs; stopped by its own id on any exit.
.venv/bin/python -c 'while True: pass' &
BUSY=$!
trap 'kill "$BUSY" 2>/dev/null' EXIT
failed=0
for run in $(seq 1 "$RUNS"); do
  log=$(mktemp -t stress-tests.XXXXXX)
  start=$(date +%s)
  if .venv/bin/python -m pytest -q -p no:cacheprovider "$@" >"$log" 2>&1; then
    result=pass
  else
    result=FAIL
    failed=$((failed + 1))
  fi
  echo "run $run/$RUNS: $result in $(( $(date +%s) - start )) s ($(tail -n 1 "$log"))"
  if [ "$result" = FAIL ]; then
    grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/  /'
    echo "  full output: $log"
  else
    rm -f "$log"
  fi
done
echo "$((RUNS - failed)) of $RUNS runs passed with one core busy"
[ "$failed" -eq 0 ]
