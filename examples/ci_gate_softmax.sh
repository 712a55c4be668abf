#!/usr/bin/env bash
# Gate a CI job on a float16 softmax being stable.
#
# Demonstrates: `smooth softmax ... --json --check --max-ulp 2` as a CI gate, reading the
# report with python3 (no jq needed), and telling smooth's exit codes apart:
#   0 = every row is free of overflow / underflow / NaN and within --max-ulp ULPs,
#   1 = some row failed (the JSON "problems" list says which),
#   2 = bad input (one line on stderr) -- this script passes that status on.
#
# Usage: examples/ci_gate_softmax.sh [LOGIT...]
#   METHOD=naive|shifted  the softmax your code uses (default: shifted)
#   MAX_ULP=N             the accuracy budget in float16 ULPs (default: 2)
# Exit status: 0 if the gate passes, 1 if it fails, 2 on bad input.
set -euo pipefail

method="${METHOD:-shifted}"
max_ulp="${MAX_ULP:-2}"
if [ "$#" -eq 0 ]; then
    set -- 8.5 -3.25 10.75 0.5 -20 4   # default logits (10.75 is close to float16's exp limit)
fi

report="$(mktemp)"
trap 'rm -f "$report"' EXIT

status=0
smooth softmax "$@" --dtype float16 --method "$method" --json --check --max-ulp "$max_ulp" \
    >"$report" || status=$?
if [ "$status" -ge 2 ]; then
    echo "gate: smooth could not run (exit $status)" >&2
    exit "$status"
fi

python3 - "$report" <<'PY'
import json, sys

with open(sys.argv[1]) as f:
    doc = json.load(f)
(row,) = doc["rows"]                       # one dtype, one method
(hard,) = doc["hardmax"]
flags = [k for k in ("overflow", "underflow", "nan") if row[k]] or ["ok"]
print(f"softmax {row['method']} in {row['dtype']}: worst error {row['ulp_error']} ULP, "
      f"sum of outputs {row['output_sum']}, flags {','.join(flags)}")
print(f"argmax {hard['argmax']} (0-based), hardmax {hard['hardmax']}")
for p in doc["problems"]:
    print(f"problem: {p}")
PY

if [ "$status" -eq 0 ]; then
    echo "gate: PASS"
else
    echo "gate: FAIL"
fi
exit "$status"
