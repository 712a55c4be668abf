#!/usr/bin/env bash
# Pick rows out of `smooth lse --json` with python3 and act on them.
#
# Demonstrates: the JSON contract -- one document with "rows", one row per (dtype, method),
# finite numbers as JSON numbers and non-finite ones as the strings "inf", "-inf", "nan" (so
# float(v) works on every value) -- turned into a tab-separated table, then a shell loop over
# the rows that overflowed, underflowed or gave NaN.
#
# Usage: examples/pick_rows.sh [VALUE...]   (default: 710 12, the seed's overflow example)
set -euo pipefail

if [ "$#" -eq 0 ]; then
    set -- 710 12
fi

json="$(smooth lse "$@" --json)"   # without --check the exit status is 0 whatever the flags

# 1. every row as TSV: dtype, method, value, exact reference (17 digits), ULP error, flags
table_py="$(cat <<'PY'
import json, sys
doc = json.load(sys.stdin)
print("dtype\tmethod\tvalue\treference\tulp_error\tflags")
for r in doc["rows"]:
    flags = ",".join(k for k in ("overflow", "underflow", "nan") if r[k]) or "ok"
    cells = [r["dtype"], r["method"], repr(float(r["value"])), r["reference_decimal"],
             format(float(r["ulp_error"]), ".3g"), flags]
    print("\t".join(cells))
PY
)"
printf '%s\n' "$json" | python3 -c "$table_py"

# 2. only the broken rows, one "dtype method" pair per line, handled in the shell
broken_py="$(cat <<'PY'
import json, sys
for r in json.load(sys.stdin)["rows"]:
    if r["overflow"] or r["underflow"] or r["nan"]:
        print(r["dtype"], r["method"])
PY
)"
broken="$(printf '%s\n' "$json" | python3 -c "$broken_py")"
if [ -z "$broken" ]; then
    echo "no row overflowed, underflowed or gave NaN"
else
    while read -r dtype method; do
        echo "broken: $method LSE in $dtype -- use the shifted form (m + log sum exp(x - m))"
    done <<<"$broken"
fi
