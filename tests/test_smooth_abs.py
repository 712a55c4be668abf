"""``smooth abs``: |x| vs f_k(x), the seed's smooth |x| with the constant C = −(2/k)·log 2, and
the smooth max built from it.

Oracle: the antiderivative exactly as derived — f_k(x) = (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2
(d|x|/dx = 2H(x) − 1 with H → σ(kx), integrated) — evaluated as written with mpmath at 400
digits (the tool uses log cosh / sinh / log1p forms in a Ziv loop).  The integration constant is
re-derived here: the constant C making f_k(0) = 0 solves (2/k)·log(1 + e^0) + C = 0.
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


def f_k(x, k) -> mpmath.mpf:
    with mpmath.workdps(oracle.DPS):
        x, k = oracle.mp(x), oracle.mp(k)
        c = -(2 / k) * mpmath.log(1 + mpmath.exp(0))  # f_k(0) = 0 fixes C = −(2/k)·log 2
        return (2 / k) * mpmath.log(1 + mpmath.exp(k * x)) - x + c


def lse_k(x, y, k) -> mpmath.mpf:
    with mpmath.workdps(oracle.DPS):
        x, y, k = oracle.mp(x), oracle.mp(y), oracle.mp(k)
        return mpmath.log(mpmath.exp(k * x) + mpmath.exp(k * y)) / k


def abs_rows(doc):
    return rows_by(doc, ("dtype", "k", "method", "input"), function="smooth_abs")


def test_constant_makes_f_zero_at_zero(smooth_json):
    assert f_k(0, 3) == 0  # the oracle's constant, derived from f_k(0) = 0
    doc = smooth_json("abs", "0", "--k", "1", "--k", "7", expect_exit=0)
    for r in abs_rows(doc).values():
        assert r["reference"] == 0.0 and r["gap"] == 0.0
        if r["method"] != "naive":  # naive: (2/k)·log 2 − 0 − (2/k)·log 2, rounded twice
            assert num(r["value"]) == 0.0


def test_every_row_against_the_derivation(smooth_json):
    xs = ["-3", "-1", "-0.25", "1e-3", "0.5", "2", "30"]
    doc = smooth_json("abs", *xs, "--k", "1", "--k", "10")
    rows = abs_rows(doc)
    assert len(rows) == 3 * 2 * 3 * len(xs)
    for (dt, k, method, text), r in rows.items():
        npdt = NP[dt]
        x = oracle.round_to(Fraction(text), npdt)
        assert r["x"] == x and r["hard"] == abs(x) and r["k"] == float(k)
        exact = f_k(x, k)
        assert r["reference"] == oracle.nearest_float(exact), (dt, k, method, text)
        with mpmath.workdps(oracle.DPS):
            gap = abs(oracle.mp(x)) - exact
            bound = 2 * mpmath.log(2) / k
        assert r["gap"] == pytest.approx(float(gap), rel=1e-14, abs=0)
        assert r["upper"] == abs(x)  # the interval [|x| − 2·log(2)/k, |x|]
        assert 0 <= gap < bound  # the gap to |x| and its bound in k
        want = oracle.expected_errors(num(r["value"]), exact, npdt)
        assert close(r["ulp_error"], want["ulp_error"]), (dt, k, method, text)
        if method == "stable":
            assert r["ulp_error"] <= 2.5, (dt, k, text, r["ulp_error"])
            assert r["inside"] and not (r["overflow"] or r["underflow"] or r["nan"])


def test_naive_and_cosh_overflow_stable_does_not(smooth_json):
    """float16, k = 10, x = 3: e^30 and cosh(15) overflow (> 65504); stable stays exact-ish."""
    doc = smooth_json("abs", "3", "--k", "10", "--dtype", "float16")
    rows = abs_rows(doc)
    for method in ("naive", "cosh"):
        r = rows["float16", 10.0, method, "3"]
        assert num(r["value"]) == math.inf and r["overflow"] and not r["inside"]
    r = rows["float16", 10.0, "stable", "3"]
    exact = f_k(3, 10)
    assert num(r["value"]) == oracle.round_to(oracle.exact(exact), np.float16)
    assert num(r["exp"]) == 0.0  # e^(−30) flushed: harmless, the result is |x| − (2/k)·log 2
    assert doc["problems"] and all("stable" not in p for p in doc["problems"])


def test_small_x_naive_cancels_stable_keeps_accuracy(smooth_json):
    """f_k(x) ≈ kx²/4 near 0: the derived form cancels three terms of size log 2, the closed
    form rounds cosh to ~1; the stable expm1 branch keeps the bits."""
    doc = smooth_json("abs", "1e-3", "--dtype", "float64", "--k", "1")
    rows = abs_rows(doc)
    assert rows["float64", 1.0, "naive", "1e-3"]["ulp_error"] > 1e5
    assert rows["float64", 1.0, "cosh", "1e-3"]["ulp_error"] > 1e5
    assert rows["float64", 1.0, "stable", "1e-3"]["ulp_error"] <= 2


def test_smooth_max_and_its_constant(smooth_json, smooth):
    """max(x, y) = (x + y + |x − y|)/2 → (x + y + f_k(x − y))/2 = (1/k)·log(e^kx + e^ky) − log(2)/k:
    the seed's eq. (2) up to the constant −log(2)/k."""
    doc = smooth_json("abs", "3", "-1", "--k", "1", "--k", "10", expect_exit=0)
    assert doc["max_constant"] == "-log(2)/k"
    max_rows = [r for r in doc["rows"] if r["function"] == "smooth_max2"]
    assert len(max_rows) == 3 * 2 * 2
    table = smooth("abs", "3", "-1", "--k", "1", "--dtype", "float64", "--full").stdout
    for r in max_rows:
        npdt, k = NP[r["dtype"]], r["k"]
        assert (r["input"], r["hard"]) == ("(3, -1)", 3.0)
        with mpmath.workdps(oracle.DPS):
            via_abs = (3 + (-1) + f_k(4, k)) / 2  # |x − y| replaced by f_k(x − y)
            seed = lse_k(3, -1, k)
            const = -mpmath.log(2) / k
            assert abs(via_abs - (seed + const)) < mpmath.mpf(10) ** -300  # the identity
        assert r["reference"] == oracle.nearest_float(via_abs)
        if k == 1 and r["dtype"] == "float64":  # the full table shows the seed's form
            assert mpmath.nstr(seed, 17) in table
            assert repr(float(const)) in table  # −log(2)/k, shortest float64 text
        assert r["ulp_error"] == pytest.approx(
            oracle.ulp_error(num(r["value"]), via_abs, npdt), rel=1e-9)
        assert r["ulp_error"] <= 2
        # the seed's smooth max (C = 0) lies in [max, max + log(2)/k]
        assert 3 <= float(seed) <= 3 + math.log(2) / k + 1e-15
    # one value: no max rows, and a note on how to get them
    one = smooth_json("abs", "3", expect_exit=0)
    assert not any(r["function"] == "smooth_max2" for r in one["rows"])
    assert any("exactly two values" in n for n in one["notes"])


@pytest.mark.parametrize("args, needle", [
    (["1", "--k", "0"], "--k"),
    (["1", "--k", "-2"], "--k"),
    (["inf"], "finite"),
    (["1", "--k", "1e-10", "--dtype", "float16"], "float16"),
    (["1", "--method", "shifted"], "shifted"),
])
def test_bad_input(smooth, args, needle):
    r = smooth("abs", *args)
    assert r.exit_code == 2 and r.exception is None, (r.exit_code, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
