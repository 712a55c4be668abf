"""``smooth sigmoid``: σ, softplus and log σ, naive vs stable, against textbook formulas.

Oracles: the formulas as written — σ(x) = 1/(1 + exp(−x)), softplus(x) = log(1 + exp(x)),
log σ(x) = −log(1 + exp(−x)) — evaluated directly with mpmath at 400 digits (the tool uses the
sign-branched forms with log1p inside a Ziv loop).  Rounding and ULPs: tests/oracle.py (numpy's
nextafter walk), or, for the ml_dtypes formats, the format parameters written out below from
their specifications.
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
ROW_KEYS = {"function", "dtype", "method", "input", "x", "hard", "value", "reference",
            "abs_error", "rel_error", "ulp_error", "overflow", "underflow", "nan"}


def sigma(x) -> mpmath.mpf:
    with mpmath.workdps(oracle.DPS):
        return 1 / (1 + mpmath.exp(-oracle.mp(x)))


def softplus(x) -> mpmath.mpf:
    with mpmath.workdps(oracle.DPS):
        return mpmath.log(1 + mpmath.exp(oracle.mp(x)))


def log_sigma(x) -> mpmath.mpf:
    with mpmath.workdps(oracle.DPS):
        return -mpmath.log(1 + mpmath.exp(-oracle.mp(x)))


EXACT = {"sigmoid": sigma, "softplus": softplus, "log_sigmoid": log_sigma}


def rows(doc, function="sigmoid"):
    return rows_by(doc, ("dtype", "method", "input"), function=function)


def test_seed_sigmoid_of_4_6(smooth_json):
    """The seed: σ(4.6) > 0.99 and σ(−4.6) < 0.01, in every dtype and by both methods."""
    doc = smooth_json("sigmoid", "4.6", "-4.6", expect_exit=0)
    assert ROW_KEYS <= set(doc["rows"][0])
    got = rows(doc)
    for dt, npdt in NP.items():
        for text, above in (("4.6", True), ("-4.6", False)):
            x = oracle.round_to(Fraction(text), npdt)
            exact = sigma(x)
            assert (exact > 0.99) if above else (exact < 0.01)
            for method in ("naive", "stable"):
                row = got[dt, method, text]
                assert row["x"] == x
                assert row["reference"] == oracle.nearest_float(exact)
                assert oracle.decimal_is_correct(row["reference_decimal"], exact)
                assert (num(row["value"]) > 0.99) if above else (num(row["value"]) < 0.01)
                assert row["hard"] == (1.0 if above else 0.0)  # the unit step H
                assert row["ulp_error"] == pytest.approx(
                    oracle.ulp_error(num(row["value"]), exact, npdt), rel=1e-9)


def test_float16_sigma_minus_12_naive_overflows_stable_is_exact(smooth_json):
    """The issue's example: e^12 = 162754.79… > 65504 overflows float16, naive σ(−12) = 1/inf
    = 0, while σ(−12) ≈ 6.14e-6 is a float16 subnormal (103 × 2^-24 after rounding)."""
    doc = smooth_json("sigmoid", "-12", "--dtype", "float16", expect_exit=0)
    got = rows(doc)
    exact = sigma(-12)
    assert float(exact) == pytest.approx(6.14e-6, rel=1e-3)
    want = oracle.round_to(oracle.exact(exact), np.float16)
    assert want == 103 * 2.0 ** -24  # representable, nonzero
    naive, stable = got["float16", "naive", "-12"], got["float16", "stable", "-12"]
    assert num(naive["value"]) == 0.0 and naive["overflow"] and num(naive["exp"]) == math.inf
    assert naive["ulp_error"] == pytest.approx(float(oracle.exact(exact) / 2 ** -24), rel=1e-12)
    assert num(stable["value"]) == want
    assert not (stable["overflow"] or stable["underflow"] or stable["nan"])
    assert stable["ulp_error"] <= 0.5
    r = smooth_json("sigmoid", "-12", "--dtype", "float16", "--check", expect_exit=1)
    assert any("naive" in p and "overflow" in p for p in r["problems"])
    smooth_json("sigmoid", "-12", "--dtype", "float16", "--method", "stable", "--check",
                expect_exit=0)


@pytest.mark.parametrize("function", ["sigmoid", "softplus", "log_sigmoid"])
def test_every_row_against_textbook_formula(smooth_json, function):
    xs = ["-800", "-40", "-12", "-4.6", "-0.1", "0", "1e-5", "3", "40", "800"]
    flag = {"sigmoid": [], "softplus": ["--softplus"], "log_sigmoid": ["--log-sigmoid"]}
    doc = smooth_json("sigmoid", *xs, *flag[function])
    got = rows(doc, function)
    assert len(got) == 3 * 2 * len(xs)
    for (dt, method, text), row in got.items():
        npdt = NP[dt]
        x = oracle.round_to(Fraction(text), npdt)
        assert row["x"] == x
        exact = EXACT[function](x)
        assert row["reference"] == oracle.nearest_float(exact), (dt, method, text)
        want = oracle.expected_errors(num(row["value"]), exact, npdt)
        for k in ("abs_error", "rel_error", "ulp_error"):
            assert close(row[k], want[k]), (dt, method, text, k, row[k], want[k])
        if method == "stable":  # the stable forms are accurate everywhere (a few roundings)
            assert row["ulp_error"] <= 2, (dt, text, row["ulp_error"])
            assert not (row["overflow"] or row["underflow"] or row["nan"]), (dt, text)
        hard = {"sigmoid": 0.0 if x < 0 else (0.5 if x == 0 else 1.0),
                "softplus": max(x, 0.0), "log_sigmoid": min(x, 0.0)}[function]
        assert row["hard"] == hard


def test_naive_failures_are_flagged(smooth_json):
    doc = smooth_json("sigmoid", "-800", "-40", "40", "800", "--softplus", "--log-sigmoid",
                      "--dtype", "float64")
    sp, ls, sg = rows(doc, "softplus"), rows(doc, "log_sigmoid"), rows(doc)
    # e^800 = inf: softplus(800) = log(inf) = inf, exactly 800 (+ e^-800)
    assert num(sp["float64", "naive", "800"]["value"]) == math.inf
    assert sp["float64", "naive", "800"]["overflow"]
    assert num(sp["float64", "stable", "800"]["value"]) == 800.0
    # 1 + e^-40 rounds to 1: log(1) = 0 although softplus(−40) ≈ 4.25e-18 is a normal double
    row = sp["float64", "naive", "-40"]
    assert num(row["value"]) == 0.0 and row["underflow"] and not row["overflow"]
    assert num(sp["float64", "stable", "-40"]["value"]) == oracle.nearest_float(softplus(-40))
    # log σ(40) = −log1p(e^-40): the naive log(1/(1 + e^-40)) = log(1) = 0
    assert num(ls["float64", "naive", "40"]["value"]) == 0.0 and ls["float64", "naive", "40"][
        "underflow"]
    # naive σ(−800): e^800 overflows, 1/inf = 0 — here also the correctly rounded value
    row = sg["float64", "naive", "-800"]
    assert row["overflow"] and num(row["value"]) == 0.0
    assert oracle.round_to(oracle.exact(sigma(-800)), np.float64) == 0.0
    # log σ(−800) naive: σ = 0, log 0 = −inf, exact −800
    assert num(ls["float64", "naive", "-800"]["value"]) == -math.inf
    assert ls["float64", "naive", "-800"]["overflow"]
    assert num(ls["float64", "stable", "-800"]["value"]) == -800.0


def test_identity_softmax_of_zero_s(smooth_json):
    """softmax([0, s]) = [1 − σ(s), σ(s)]: both sides as computed, their difference in ULPs of
    the dtype at the exact value, and the cancellation of 1 − σ(s) when σ(s) ≈ 1."""
    doc = smooth_json("sigmoid", "-12", "-4.6", "0", "4.6", "20")
    ident = doc["identity"]
    assert len(ident) == 3 * 2 * 5
    for r in ident:
        npdt = NP[r["dtype"]]
        s = r["s"]
        exact = [sigma(-s), sigma(s)]
        assert r["reference"] == [oracle.nearest_float(e) for e in exact]
        for i in range(2):
            a, b = num(r["softmax"][i]), num(r["sigmoid_form"][i])
            if math.isnan(a) or math.isnan(b):  # float16 naive softmax([0, 20]): inf/inf
                assert math.isnan(num(r["difference_ulp"][i]))
                continue
            assert r["difference_ulp"][i] == pytest.approx(
                float(abs(Fraction(a) - Fraction(b)) / oracle.ulp(exact[i], npdt)), rel=1e-12)
        # the σ form's first entry is 1 − σ(s), rounded once in the dtype
        assert num(r["sigmoid_form"][0]) == oracle.round_to(
            1 - Fraction(num(r["sigmoid_form"][1])), npdt)
        if r["softmax_method"] == "shifted":  # the stable pair: softmax[1] and σ(s) both ≤ 1 ULP
            assert r["softmax_ulp_error"][1] <= 1 and r["sigmoid_ulp_error"][1] <= 1
    by = {(r["dtype"], r["sigmoid_method"], r["input"]): r for r in ident}
    # float32, s = 20: σ(20) rounds to 1 − 2^-24·k, so 1 − σ(20) is a multiple of 2^-24, far from
    # e^-20/(1 + e^-20) ≈ 2.06e-9, which softmax[0] gets right
    r = by["float32", "stable", "20"]
    assert r["softmax_ulp_error"][0] <= 1
    assert r["difference_ulp"][0] > 1e4
    # float16 naive at s = −12: softmax([0, −12]) has no e^12 to overflow, naive σ(−12) does
    r = by["float16", "naive", "-12"]
    assert num(r["sigmoid_form"][1]) == 0.0 and num(r["softmax"][1]) > 0


# the ml_dtypes formats: (precision p, emin) from their specifications (bfloat16: Intel's
# BFLOAT16 definition; float8: the OCP 8-bit floating point specification)
ML = {"bfloat16": (8, -126), "float8_e4m3fn": (4, -6), "float8_e5m2": (3, -14)}


def _ulp(ref: mpmath.mpf, p: int, emin: int) -> Fraction:
    e = emin if ref == 0 else max(int(mpmath.floor(mpmath.log(abs(ref), 2))), emin)
    return Fraction(2) ** (e - p + 1)


def test_every_dtype_of_the_tool(smooth_json):
    """σ works in every dtype: stable within a few ULPs of the exact value of the dtype's input;
    float8_e4m3fn has no infinity, so naive e^12 overflows to NaN (flagged overflow and nan)."""
    doc = smooth_json("sigmoid", "-12", "-1", "0.5", "3", "--dtype", "all")
    got = rows(doc)
    assert {k[0] for k in got} == {"float16", "float32", "float64", *ML}
    for (dt, method, text), row in got.items():
        exact = sigma(row["x"])
        assert row["reference"] == oracle.nearest_float(exact)
        if dt in ML and method == "stable":
            p, emin = ML[dt]
            d = abs(Fraction(num(row["value"])) - oracle.exact(exact))
            assert row["ulp_error"] == pytest.approx(float(d / _ulp(exact, p, emin)), rel=1e-9)
            assert row["ulp_error"] <= 1.5, (dt, text, row["ulp_error"])
    e4 = got["float8_e4m3fn", "naive", "-12"]
    assert math.isnan(num(e4["value"])) and e4["overflow"] and e4["nan"]
    assert got["float8_e5m2", "naive", "-12"]["overflow"]  # e^12 > 57344: inf


@pytest.mark.parametrize("args, needle", [
    ([], "no values"),
    (["abc"], "'abc'"),
    (["1", "--method", "shifted"], "shifted"),
    (["1", "--dtype", "float128"], "float128"),
])
def test_bad_input_is_one_line_exit_2(smooth, args, needle):
    r = smooth("sigmoid", *args)
    assert r.exit_code == 2, (r.exit_code, r.stdout, r.stderr)
    assert r.exception is None
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error:") and needle in lines[0]
