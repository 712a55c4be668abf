"""``smooth bounds``: max ≤ LSE ≤ max + log n and the smooth max (1/k)·LSE(k·x).

Every bound is re-derived with mpmath at 400 digits (tests/oracle.py); the computed values are
re-simulated one numpy scalar operation at a time.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, num, rows_by

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def smooth_max(doc, dtype, method):
    """The smooth-max rows of one (dtype, method), in the order of --k."""
    return [r for r in doc["rows"] if r["function"] == "smooth_max" and r["dtype"] == dtype
            and r["method"] == method]


def check_bounds_row(r: dict, xs: list[float]) -> None:
    dt = NP[r["dtype"]]
    n = len(xs)
    top = max(xs)
    ref = oracle.lse_exact(xs)
    value, _ = oracle.simulate(xs, dt, r["method"])
    with mpmath.workdps(oracle.DPS):
        log_n = mpmath.log(n)
        upper = top + log_n
        gap = ref - top
        # The seed's eq. (4), for the exact LSE of the rounded inputs.
        assert top <= ref <= upper
        assert 0 <= gap <= log_n
    assert r["function"] == "lse" and r["k"] is None and r["max"] == top
    assert close(r["value"], value, rel=0)
    assert r["reference"] == oracle.nearest_float(ref)
    assert oracle.decimal_is_correct(r["reference_decimal"], ref)
    assert r["upper"] == oracle.nearest_float(upper)
    assert close(r["gap"], oracle.nearest_float(gap), rel=1e-15)
    hi = oracle.round_to(oracle.exact(upper), dt)
    assert r["inside"] is (math.isfinite(value) and top <= value <= hi)
    assert close(r["ulp_error"], oracle.expected_errors(value, ref, dt)["ulp_error"])


def check_smooth_max(s: dict, xs: list[float], k_typed: str, dtype: str, method: str) -> None:
    dt = NP[dtype]
    n, top = len(xs), max(xs)
    kd = oracle.round_to(Fraction(k_typed), dt)
    assert s["function"] == "smooth_max" and s["k"] == kd
    # (1/k)·LSE(k·x) with exact products k·x_i; within [max, max + log(n)/k] (eq. (4)/k).
    with mpmath.workdps(oracle.DPS):
        ref = oracle.lse_exact([Fraction(kd) * Fraction(x) for x in xs]) / oracle.mp(
            Fraction(kd))
        bound = mpmath.log(n) / oracle.mp(Fraction(kd))
        assert 0 <= ref - top <= bound
        assert s["reference"] == oracle.nearest_float(ref)
        assert close(s["gap"], float(ref - top), rel=1e-12)
        assert s["upper"] == oracle.nearest_float(top + bound)
        hi = oracle.round_to(Fraction(top) + oracle.exact(bound), dt)
    # the user's computation: k·x rounded to the dtype, LSE, then divided by k in the dtype
    with np.errstate(all="ignore"):
        kx = [float(dt(dt(kd) * dt(x))) for x in xs]
        lse_kx, _ = oracle.simulate(kx, dt, method)
        value = float(dt(dt(lse_kx) / dt(kd)))
    assert close(s["value"], value, rel=0)
    assert s["inside"] is (math.isfinite(value) and top <= value <= hi)
    assert close(s["ulp_error"], oracle.expected_errors(value, ref, dt)["ulp_error"])


def test_one_two_three_with_k(smooth_json):
    doc = smooth_json("bounds", "1", "2", "3", "--k", "10")
    assert doc["k"] == [10.0]
    for r in rows_by(doc, function="lse").values():
        check_bounds_row(r, [1.0, 2.0, 3.0])
        assert r["inside"] is True
        (s,) = smooth_max(doc, r["dtype"], r["method"])
        check_smooth_max(s, [1.0, 2.0, 3.0], "10", r["dtype"], r["method"])
    # exp(10·3) = 1.07e13 overflows float16: the naive smooth max is inf, outside its bounds.
    f16 = smooth_max(doc, "float16", "naive")[0]
    assert f16["overflow"] is True and f16["value"] == "inf" and f16["inside"] is False
    assert smooth_max(doc, "float16", "shifted")[0]["inside"] is True


def test_check_fails_when_smooth_max_overflows(smooth):
    r = smooth("bounds", "1", "2", "3", "--k", "10", "--check", "--json")
    assert r.exit_code == 1
    probs = r.json["problems"]
    assert "float16 naive k=10: overflow" in [p.split(" — ")[0] for p in probs]
    assert any("outside [max, max + log(n)/k]" in p for p in probs)
    r = smooth("bounds", "1", "2", "3", "--k", "10", "--check", "--method", "shifted")
    assert r.exit_code == 0


@pytest.mark.parametrize("k", ["0.1", "1", "3", "100", "1e3"])
def test_smooth_max_gap_shrinks_like_log_n_over_k(smooth_json, k):
    xs = ["0.5", "-1.25", "2", "1.75"]
    doc = smooth_json("bounds", *xs, "--k", k, "--dtype", "float32,float64",
                      "--method", "shifted")
    for r in rows_by(doc, function="lse").values():
        rounded = [oracle.round_to(Fraction(x), NP[r["dtype"]]) for x in xs]
        check_bounds_row(r, rounded)
        check_smooth_max(smooth_max(doc, r["dtype"], "shifted")[0], rounded, k, r["dtype"],
                         "shifted")


def test_repeated_k(smooth_json):
    doc = smooth_json("bounds", "1", "2", "--k", "1", "--k", "50", "--dtype", "float64")
    assert doc["k"] == [1.0, 50.0]
    for r in rows_by(doc, function="lse").values():
        sm = smooth_max(doc, "float64", r["method"])
        assert [s["k"] for s in sm] == [1.0, 50.0]
        for s, k in zip(sm, ("1", "50")):
            check_smooth_max(s, [1.0, 2.0], k, "float64", r["method"])
        # the gap to the max shrinks with k: log(1 + e**-1) > (1/50) log(1 + e**-50)
        assert sm[0]["gap"] > sm[1]["gap"] > 0


def test_naive_underflow_leaves_the_bounds(smooth_json):
    doc = smooth_json("bounds", "-800", "-900", "--dtype", "float64")
    lse_rows = rows_by(doc, function="lse")
    naive, shifted = lse_rows["float64", "naive"], lse_rows["float64", "shifted"]
    assert naive["value"] == "-inf" and naive["inside"] is False and naive["underflow"] is True
    assert shifted["inside"] is True and shifted["value"] == -800.0
    check_bounds_row(naive, [-800.0, -900.0])
    check_bounds_row(shifted, [-800.0, -900.0])


def test_equal_inputs_reach_the_upper_bound(smooth_json):
    # LSE of n equal values is exactly max + log n: the computed value must be "inside" the
    # bounds rounded to the dtype, though it may exceed the exact max + log n.
    doc = smooth_json("bounds", "5", "5", "5", "5")
    for r in rows_by(doc, function="lse").values():
        check_bounds_row(r, [5.0] * 4)
        assert num(r["gap"]) == oracle.nearest_float(oracle.lse_exact([5.0] * 4) - 5)


@pytest.mark.parametrize("args, words", [
    (["bounds", "inf", "1"], "finite"),
    (["bounds", "nan", "1"], "finite"),
    (["bounds", "1", "2", "--k", "0"], "'0'"),
    (["bounds", "1", "2", "--k", "-3"], "'-3'"),
    (["bounds", "1", "2", "--k", "inf"], "'inf'"),
])
def test_bad_bounds_input(smooth, args, words):
    r = smooth(*args)
    assert r.exit_code == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("smooth: error: ")
    assert words in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_inputs_that_overflow_the_dtype_are_flagged_not_dropped(smooth):
    # 1e5 rounds to inf in float16 (max 65504): every row there overflows, whatever the method
    r = smooth("bounds", "1e5", "1", "--dtype", "float16", "--check", "--json")
    assert r.exit_code == 1
    for row in r.json["rows"]:
        assert row["inputs_overflowed"] is True and row["overflow"] is True
        assert row["inside"] is None  # no bounds for a row whose inputs are not finite


def test_smooth_max_of_overflowing_products_is_an_overflow(smooth):
    # k·x = 1000·100 = 1e5 overflows float16 although x and the exact smooth max (100 + a
    # tail) are finite: the result inf is an overflow, and --check fails
    r = smooth("bounds", "100", "99.9", "-5", "--k", "1000", "--dtype", "float16", "--check",
               "--json")
    assert r.exit_code == 1
    for s in smooth_max(r.json, "float16", "shifted") + smooth_max(r.json, "float16", "naive"):
        assert s["value"] == "inf" and s["overflow"] is True and s["inputs_overflowed"] is True
        with mpmath.workdps(50):
            assert float(mpmath.mpf(s["reference"])) == 100.0
    assert "float16 shifted k=1000: overflow" in [p.split(" — ")[0]
                                                 for p in r.json["problems"]]
