#!/usr/bin/env bash
# Handle smooth's exit codes in a script that runs under `set -euo pipefail`.
#
# Demonstrates the exit-status contract:
#   0  the command ran (with --check: no row overflowed, underflowed, gave NaN or exceeded
#      --max-ulp),
#   1  --check found a problem (stdout still has the full report),
#   2  bad usage or bad input: one line "smooth: error: ..." on stderr, nothing on stdout.
# Under `set -e` a non-zero status would end the script; `cmd || status=$?` keeps it.
set -euo pipefail

run() {
    # run smooth, print its exit status and, for status 2, its one-line error message
    local label="$1"; shift
    local status=0 err
    err="$(mktemp)"
    smooth "$@" >/dev/null 2>"$err" || status=$?
    if [ "$status" -eq 2 ]; then
        echo "$label: exit $status ($(cat "$err"))"
    else
        echo "$label: exit $status"
    fi
    rm -f "$err"
}

run "shifted LSE in float16 is stable"  lse 710 12 --dtype float16 --method shifted --check
run "naive LSE in float16 overflows"    lse 710 12 --dtype float16 --method naive --check
run "naive float64 LSE(-800, -900)"     lse -800 -900 --dtype float64 --method naive --check
run "float32 softmax within 1 ULP?"     softmax 1.1 3.4 2.5 --dtype float32 --check --max-ulp 1
run "not a number"                      lse 1 abc
run "unknown dtype"                     lse 1 --dtype float8
