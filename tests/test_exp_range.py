"""``smooth exp-range``: the exact thresholds of exp in each dtype.

Each threshold t is verified by its defining property with exp correctly rounded by the oracle
(mpmath at 400 digits, rounded by neighbour enumeration): the property holds at t and fails at
the next representable value beyond t (numpy.nextafter in that dtype).  exp is increasing, so
this pins t down uniquely.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import oracle
from conftest import loads_strict

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
KEYS = {"dtype", "largest_finite_x", "smallest_nonzero_x", "smallest_normal_x", "max",
        "smallest_normal", "smallest_subnormal", "eps"}

# The values the issue and the seed state (float64: the seed's (-745, 710)).
STATED = {
    "float16": {"largest_finite_x": 11.0859375, "smallest_nonzero_x": -17.328125},
    "float64": {"largest_finite_x": 709.782712893384,
                "smallest_nonzero_x": -745.1332191019411},
}


@pytest.fixture(scope="module")
def doc():
    from typer.testing import CliRunner

    from smoothcli.cli import app

    r = CliRunner().invoke(app, ["exp-range", "--json"])
    assert r.exit_code == 0, r.output
    return loads_strict(r.stdout)


def row(doc, dtype):
    (r,) = [r for r in doc["rows"] if r["dtype"] == dtype]
    return r


def step(x: float, dtype, direction: float) -> float:
    return float(np.nextafter(NP[dtype](x), NP[dtype](direction)))


def test_keys_and_dtypes(doc):
    assert doc["command"] == "exp-range" and doc["schema_version"] == 2
    assert [r["dtype"] for r in doc["rows"]] == ["float16", "float32", "float64"]
    for r in doc["rows"]:
        assert KEYS <= set(r)


@pytest.mark.parametrize("dtype", list(NP))
def test_largest_finite_x(doc, dtype):
    x = row(doc, dtype)["largest_finite_x"]
    assert float(NP[dtype](x)) == x  # a value of the dtype
    assert math.isfinite(oracle.exp_rounded(x, NP[dtype]))
    assert oracle.exp_rounded(step(x, dtype, math.inf), NP[dtype]) == math.inf
    if dtype in STATED:
        assert x == STATED[dtype]["largest_finite_x"]


@pytest.mark.parametrize("dtype", list(NP))
def test_smallest_nonzero_x(doc, dtype):
    x = row(doc, dtype)["smallest_nonzero_x"]
    assert float(NP[dtype](x)) == x
    assert oracle.exp_rounded(x, NP[dtype]) > 0
    assert oracle.exp_rounded(step(x, dtype, -math.inf), NP[dtype]) == 0
    if dtype in STATED:
        assert x == STATED[dtype]["smallest_nonzero_x"]


@pytest.mark.parametrize("dtype", list(NP))
def test_smallest_normal_x(doc, dtype):
    x = row(doc, dtype)["smallest_normal_x"]
    tiny = float(np.finfo(NP[dtype]).smallest_normal)
    assert float(NP[dtype](x)) == x
    assert oracle.exp_rounded(x, NP[dtype]) >= tiny
    assert oracle.exp_rounded(step(x, dtype, -math.inf), NP[dtype]) < tiny


def test_the_float16_and_float64_thresholds_by_hand():
    # float16: ln(65504 + 16) = ln 65520 = 11.08996...; the float16 spacing in [8, 16) is 2**-7,
    # and 11.0859375 = 1419/128 is the last multiple of it below.  exp(x) rounds to 0 iff
    # exp(x) <= 2**-25 (half the smallest subnormal, ties to the even 0): x <= -25 ln 2 =
    # -17.3286795...; spacing 2**-6 in [16, 32): -17.328125 = -1109/64 is the first above.
    with mpmath.workdps(50):
        assert mpmath.log(65520) > mpmath.mpf(1419) / 128 > mpmath.log(65520) - mpmath.mpf(2)**-7
        assert -25 * mpmath.log(2) < -17.328125 < -25 * mpmath.log(2) + mpmath.mpf(2)**-6
        # float64: ln(2**1024 - 2**970) and ln(2**-1075).
        over = mpmath.log(mpmath.mpf(2)**1024 - mpmath.mpf(2)**970)
        zero = -1075 * mpmath.log(2)
        assert oracle.round_to(oracle.exact(over), np.float64) in (
            709.782712893384, float(np.nextafter(709.782712893384, 1000)))
        assert 709.782712893384 < over < float(np.nextafter(709.782712893384, 1000))
        assert float(np.nextafter(-745.1332191019411, -1000)) < zero < -745.1332191019411


@pytest.mark.parametrize("dtype", list(NP))
def test_dtype_facts(doc, dtype):
    r = row(doc, dtype)
    fi = np.finfo(NP[dtype])
    assert r["max"] == float(fi.max)
    assert r["smallest_normal"] == float(fi.smallest_normal)
    assert r["smallest_subnormal"] == float(fi.smallest_subnormal)
    assert r["eps"] == float(fi.eps)
    p = fi.nmant + 1
    assert r["eps"] == 2.0 ** (1 - p)
    with mpmath.workdps(oracle.DPS):
        ln_max = mpmath.log(mpmath.mpf(float(fi.max)))
    assert r["ln_max"] == oracle.nearest_float(ln_max)
    assert oracle.decimal_is_correct(r["ln_max_decimal"], ln_max)


@pytest.mark.parametrize("dtype", list(NP))
def test_numpy_agreement_is_reported_truthfully(doc, dtype):
    r = row(doc, dtype)
    d = NP[dtype]
    tiny = d(np.finfo(d).smallest_normal)
    with np.errstate(all="ignore"):
        def e(x):
            return np.exp(d(x))
        hi, lo, nm = r["largest_finite_x"], r["smallest_nonzero_x"], r["smallest_normal_x"]
        agrees = bool(np.isfinite(e(hi)) and not np.isfinite(e(step(hi, dtype, math.inf)))
                      and e(lo) > 0 and e(step(lo, dtype, -math.inf)) == 0
                      and e(nm) >= tiny and e(step(nm, dtype, -math.inf)) < tiny)
    assert r["numpy_agrees"] is agrees
    assert (r["disagreements"] == []) is agrees


def test_dtype_selection_and_check(smooth):
    r = smooth("exp-range", "--dtype", "float16", "--json", "--check")
    (only,) = r.json["rows"]
    assert only["dtype"] == "float16" and only["largest_finite_x"] == 11.0859375
    assert r.exit_code == (0 if only["numpy_agrees"] else 1)


def test_table_shows_exact_thresholds(smooth):
    r = smooth("exp-range")
    assert r.exit_code == 0
    for text in ("11.0859375", "-17.328125", "709.782712893384", "-745.1332191019411"):
        assert text in r.stdout
