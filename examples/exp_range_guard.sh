#!/usr/bin/env bash
# Is it safe to call exp() naively on my largest logit, in each dtype?
#
# Demonstrates: reading `smooth exp-range --json` (the exact thresholds of exp per dtype:
# largest_finite_x, smallest_nonzero_x, smallest_normal_x) from a script and comparing a
# value against them, with the script's own exit status (1 if exp overflows in some dtype).
#
# Usage: examples/exp_range_guard.sh X [DTYPE,...]
#   X       the largest logit your code will exponentiate (e.g. 50)
#   DTYPE   comma-separated dtypes to check (default: float16,float32,float64)
set -euo pipefail

if [ "$#" -lt 1 ]; then
    echo "usage: $0 X [DTYPE,...]" >&2
    exit 2
fi
x="$1"
dtypes="${2:-float16,float32,float64}"

guard_py="$(cat <<'PY'
import json, sys
text = sys.argv[1]
x = float(text)
unsafe = 0
for r in json.load(sys.stdin)["rows"]:
    top = r["largest_finite_x"]
    if x > top:
        unsafe += 1
        print(f"{r['dtype']}: exp({text}) overflows (finite only up to x = {top!r}); "
              "shift by the max first")
    else:
        print(f"{r['dtype']}: exp({text}) is finite (limit x = {top!r})")
sys.exit(1 if unsafe else 0)
PY
)"
smooth exp-range --dtype "$dtypes" --json | python3 -c "$guard_py" "$x"
