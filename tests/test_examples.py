"""Run the shell scripts in examples/ as a user would (``smooth`` on PATH) and check their
results against independent computations (tests/oracle.py)."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import oracle

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.sh"))

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def run(name: str, *args: str, env: dict, extra_env: dict | None = None):
    e = dict(env)
    e.update(extra_env or {})
    return subprocess.run([str(EXAMPLES / name), *args], capture_output=True, text=True,
                          env=e, cwd=REPO, timeout=120)


def worst_softmax_ulp(xs: list[str], dtype, method: str) -> float:
    """Worst per-element ULP error of the computed softmax (documented model) vs exact."""
    rounded = [oracle.round_to(Fraction(x), dtype) for x in xs]
    values, _ = oracle.simulate(rounded, dtype, method, kind="softmax")
    refs = oracle.softmax_exact(rounded)
    errs = [oracle.expected_errors(v, r, dtype)["ulp_error"] for v, r in zip(values, refs)]
    return math.nan if any(math.isnan(e) for e in errs) else max(errs)


def test_there_are_examples_with_headers():
    assert len(SCRIPTS) >= 3
    for s in SCRIPTS:
        text = s.read_text()
        lines = text.splitlines()
        assert lines[0] == "#!/usr/bin/env bash", s
        assert lines[1].startswith("# ") and "Demonstrates" in text, s
        assert "set -euo pipefail" in text, s
        assert "smooth " in text and "python -m smoothcli" not in text, s
        assert s.stat().st_mode & 0o111, f"{s} is not executable"


def test_ci_gate_passes_on_stable_float16_softmax(env_with_smooth):
    logits = ["8.5", "-3.25", "10.75", "0.5", "-20", "4"]  # the script's defaults
    r = run("ci_gate_softmax.sh", env=env_with_smooth)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "gate: PASS"
    m = re.match(r"softmax shifted in float16: worst error (\S+) ULP, sum of outputs (\S+), "
                 r"flags ok$", lines[0])
    assert m, lines[0]
    want = worst_softmax_ulp(logits, np.float16, "shifted")
    assert want <= 2
    assert math.isclose(float(m.group(1)), want, rel_tol=1e-9)
    values, _ = oracle.simulate([oracle.round_to(Fraction(x), np.float16) for x in logits],
                                np.float16, "shifted", kind="softmax")
    assert float(m.group(2)) == float(sum(Fraction(v) for v in values))
    top = max(range(len(logits)), key=lambda i: float(logits[i]))
    hard = [1 if i == top else 0 for i in range(len(logits))]
    assert lines[1] == f"argmax {top} (0-based), hardmax {hard}"


def test_ci_gate_fails_on_naive_overflow(env_with_smooth):
    # exp(11.75) > 65504 in float16 (ln 65520 ≈ 11.09): the naive softmax overflows.
    assert oracle.exp_rounded(11.75, np.float16) == math.inf
    r = run("ci_gate_softmax.sh", "8.5", "-3.25", "11.75", env=env_with_smooth,
            extra_env={"METHOD": "naive"})
    assert r.returncode == 1
    assert r.stdout.splitlines()[-1] == "gate: FAIL"
    problems = [line.split(" — ")[0] for line in r.stdout.splitlines()]
    assert "problem: float16 naive: overflow" in problems  # its reason: inf / inf = NaN
    assert "inf/inf = NaN" in r.stdout


def test_ci_gate_budget_is_enforced(env_with_smooth):
    logits = ["1.1", "3.4", "2.5"]
    worst = worst_softmax_ulp(logits, np.float16, "naive")
    assert 0.5 < worst < 2  # 0.549 ULP: fails a 0.5 budget, passes 2
    r = run("ci_gate_softmax.sh", *logits, env=env_with_smooth,
            extra_env={"METHOD": "naive", "MAX_ULP": "0.5"})
    assert r.returncode == 1 and r.stdout.splitlines()[-1] == "gate: FAIL"
    r = run("ci_gate_softmax.sh", *logits, env=env_with_smooth, extra_env={"METHOD": "naive"})
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == "gate: PASS"


def test_ci_gate_passes_bad_input_status_on(env_with_smooth):
    r = run("ci_gate_softmax.sh", "1", "abc", env=env_with_smooth)
    assert r.returncode == 2
    assert "smooth: error: not a number: 'abc'" in r.stderr


def test_pick_rows_default(env_with_smooth):
    r = run("pick_rows.sh", env=env_with_smooth)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split("\t") == ["dtype", "method", "value", "reference", "ulp_error",
                                    "flags"]
    table = [line.split("\t") for line in lines[1:7]]
    ref = oracle.lse_exact([710, 12])
    for dtype, method, value, reference, ulp_error, flags in table:
        dt = {"float16": np.float16, "float32": np.float32, "float64": np.float64}[dtype]
        want, _ = oracle.simulate([710.0, 12.0], dt, method)
        assert float(value) == want
        assert oracle.decimal_is_correct(reference, ref)
        err = oracle.expected_errors(want, ref, dt)["ulp_error"]
        assert ulp_error == format(err, ".3g")
        assert flags == ("overflow" if method == "naive" else "ok")
    assert lines[7:] == [f"broken: naive LSE in {d} -- use the shifted form "
                         "(m + log sum exp(x - m))" for d in ("float16", "float32", "float64")]


def test_pick_rows_nothing_broken(env_with_smooth):
    r = run("pick_rows.sh", "1", "2", "3", env=env_with_smooth)
    assert r.returncode == 0
    assert r.stdout.splitlines()[-1] == "no row overflowed, underflowed or gave NaN"
    assert len(r.stdout.splitlines()) == 1 + 6 + 1


@pytest.mark.parametrize("x", ["50", "89", "11", "710"])
def test_exp_range_guard(env_with_smooth, x):
    r = run("exp_range_guard.sh", x, env=env_with_smooth)
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    any_overflow = False
    for line, (name, dt) in zip(lines, (("float16", np.float16), ("float32", np.float32),
                                        ("float64", np.float64))):
        # the script compares the float64 value of x with the threshold; for these x the
        # dtype's own rounding of x does not change the verdict
        overflows = oracle.exp_rounded(oracle.round_to(Fraction(x), dt), dt) == math.inf
        any_overflow |= overflows
        assert line.startswith(f"{name}: exp({x}) " + ("overflows" if overflows
                                                       else "is finite")), line
    assert r.returncode == (1 if any_overflow else 0)


def test_exp_range_guard_usage_error(env_with_smooth):
    r = run("exp_range_guard.sh", env=env_with_smooth)
    assert r.returncode == 2 and r.stderr.startswith("usage:")


def test_exit_codes_script(env_with_smooth):
    r = run("exit_codes.sh", env=env_with_smooth)
    assert r.returncode == 0, r.stderr
    got = dict(line.split(": exit ", 1) for line in r.stdout.splitlines())
    assert got["shifted LSE in float16 is stable"] == "0"
    assert oracle.exp_rounded(710.0, np.float16) == math.inf
    assert got["naive LSE in float16 overflows"] == "1"
    assert oracle.exp_rounded(-800.0, np.float64) == 0.0  # naive sum is 0
    assert got["naive float64 LSE(-800, -900)"] == "1"
    worst = max(worst_softmax_ulp(["1.1", "3.4", "2.5"], np.float32, m)
                for m in ("naive", "shifted"))
    assert got["float32 softmax within 1 ULP?"] == ("1" if worst > 1 else "0")
    assert got["not a number"] == "2 (smooth: error: not a number: 'abc')"
    assert got["unknown dtype"].startswith("2 (smooth: error: unknown dtype 'float8'")
