"""``smooth underflow``: exp term by term, the demo LSE(-800, -900), and the seed's tiny numbers.

Classes (normal / subnormal / zero) are checked by exact comparison with numpy.finfo's
smallest normal; exact exponentials come from mpmath at 400 digits; the float64 facts also
from Python's float(), whose decimal parsing is correctly rounded.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import loads_strict, num

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def klass(v: float, dtype) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf"
    if v == 0:
        return "zero"
    return "subnormal" if abs(v) < float(np.finfo(dtype).smallest_normal) else "normal"


def numpy_exp(x: float, dtype) -> float:
    with np.errstate(all="ignore"):
        return float(np.exp(NP[dtype](x)))


def check_terms(doc, xs: list[float]) -> None:
    for t in doc["terms"]:
        dt = t["dtype"]
        rounded = [oracle.round_to(Fraction(x), NP[dt]) if math.isfinite(x) else x for x in xs]
        x = rounded[t["i"]]
        m = max(rounded)
        assert num(t["x"]) == x
        with mpmath.workdps(oracle.DPS):
            e = mpmath.exp(mpmath.mpf(x))
        assert num(t["exp_exact"]) == oracle.nearest_float(e)
        assert oracle.decimal_is_correct(t["exp_exact_decimal"], e)
        assert num(t["exp"]) == numpy_exp(x, dt)  # what a user's numpy code gets
        assert t["exp_class"] == klass(num(t["exp"]), NP[dt])
        shifted = numpy_exp(float(NP[dt](NP[dt](x) - NP[dt](m))), dt)
        assert num(t["shifted_exp"]) == shifted
        assert t["shifted_class"] == klass(shifted, NP[dt])


@pytest.fixture(scope="module")
def demo():
    from typer.testing import CliRunner

    from smoothcli.cli import app

    r = CliRunner().invoke(app, ["underflow", "--json"])
    assert r.exit_code == 0, r.output
    return loads_strict(r.stdout)


def test_demo_is_lse_of_minus_800_minus_900(demo):
    assert [i["text"] for i in demo["inputs"]] == ["-800", "-900"]
    rows = {(r["dtype"], r["method"]): r for r in demo["rows"]}
    ref = oracle.lse_exact([-800, -900])
    for dt in NP:
        naive, shifted = rows[dt, "naive"], rows[dt, "shifted"]
        assert naive["underflow"] is True and naive["value"] == "-inf"
        assert naive["sumexp"] == 0.0 and naive["flushed_terms"] == 2
        assert shifted["value"] == -800.0 and not shifted["underflow"]
        assert shifted["sumexp"] >= 1  # the term exp(m - m) = 1 is in the sum
        assert shifted["reference"] == oracle.nearest_float(ref)
    check_terms(demo, [-800.0, -900.0])


def test_demo_term_classes_by_exact_reasoning(demo):
    terms = {(t["dtype"], t["i"]): t for t in demo["terms"]}
    # exp(-800) ≈ 3.7e-348 is below half of every smallest subnormal (float64: 2**-1075 ≈
    # 2.5e-324): zero everywhere.  exp(-900 + 800) = exp(-100) ≈ 3.72e-44 is below float16's
    # half-subnormal 2**-25 (zero), between float32's 2**-150 and 2**-126 (subnormal), and
    # above float64's 2**-1022 (normal).
    with mpmath.workdps(50):
        e100 = mpmath.exp(-100)
        assert e100 < mpmath.mpf(2) ** -25
        assert mpmath.mpf(2) ** -150 < e100 < mpmath.mpf(2) ** -126
        assert e100 > mpmath.mpf(2) ** -1022
    for dt in NP:
        assert terms[dt, 0]["exp_class"] == terms[dt, 1]["exp_class"] == "zero"
        assert terms[dt, 0]["shifted_class"] == "normal" and terms[dt, 0]["shifted_exp"] == 1.0
    assert terms["float16", 1]["shifted_class"] == "zero"
    assert terms["float32", 1]["shifted_class"] == "subnormal"
    assert terms["float64", 1]["shifted_class"] == "normal"


def test_seed_tiny_number_facts_float64(demo):
    facts = {(f["dtype"], f["typed"]): f for f in demo["tiny"]}
    # The seed: 1e-324 == 0.0 and 3e-324 == 5e-324 in float64.  Python's float() agrees.
    assert float("1e-324") == 0.0 and float("3e-324") == float("5e-324") == 2.0**-1074
    f = facts["float64", "1e-324"]
    assert f["value"] == 0.0 and f["equals_zero"] is True and f["value_class"] == "zero"
    for t in ("3e-324", "5e-324"):
        f = facts["float64", t]
        assert f["value"] == 2.0**-1074 and f["equals_smallest_subnormal"] is True
        assert f["value_class"] == "subnormal" and f["equals_zero"] is False


def test_tiny_facts_every_dtype(demo):
    assert {f["dtype"] for f in demo["tiny"]} == set(NP)
    for f in demo["tiny"]:
        dt = NP[f["dtype"]]
        want = oracle.round_to(Fraction(f["typed"]), dt)
        assert f["value"] == want, f
        sub = float(np.finfo(dt).smallest_subnormal)
        assert f["equals_zero"] is (want == 0)
        assert f["equals_smallest_subnormal"] is (want == sub)
        assert f["value_class"] == klass(want, dt)
    # each dtype's facts include one token that rounds to 0 and one that rounds up to the
    # smallest subnormal, near that dtype's own bottom (not only the float64 tokens)
    for dt, npdt in NP.items():
        mine = [f for f in demo["tiny"] if f["dtype"] == dt]
        sub = float(np.finfo(npdt).smallest_subnormal)
        assert any(f["equals_zero"] and Fraction(f["typed"]) > Fraction(sub) / 10 for f in mine)
        assert any(f["equals_smallest_subnormal"] and Fraction(f["typed"]) < Fraction(sub)
                   for f in mine)


@pytest.mark.parametrize("xs", [["-745", "-746"], ["-10", "-20", "-0.5"], ["-104", "-90"],
                                ["1", "-inf"]])
def test_terms_with_values(smooth_json, xs):
    doc = smooth_json("underflow", *xs)
    assert "tiny" not in doc
    check_terms(doc, [float(x) for x in xs])
    for r in doc["rows"]:
        if r["method"] == "shifted":
            assert num(r["sumexp"]) >= 1


def test_minus_745_float64_sum_is_subnormal(smooth_json):
    # exp(-745) = 2**-1074 · exp(-745 + 1074 ln 2) ≈ 0.57 · 2**-1074 -> rounds to 2**-1074;
    # exp(-746) ≈ 0.21 · 2**-1074 -> 0.  The naive sum is the smallest subnormal.
    doc = smooth_json("underflow", "-745", "-746", "--dtype", "float64")
    terms = {t["i"]: t for t in doc["terms"]}
    assert terms[0]["exp"] == 2.0**-1074 and terms[0]["exp_class"] == "subnormal"
    assert terms[1]["exp"] == 0.0 and terms[1]["exp_class"] == "zero"
    assert oracle.exp_rounded(-745.0, np.float64) == 2.0**-1074
    assert oracle.exp_rounded(-746.0, np.float64) == 0.0
    naive = [r for r in doc["rows"] if r["method"] == "naive"][0]
    assert naive["underflow"] is True and naive["flushed_terms"] == 1
    # log(2**-1074) = -744.44: 0.56 off, about 4.9e12 float64 spacings (2**-43 at 745).
    with mpmath.workdps(60):
        ref = oracle.lse_exact([-745, -746])
        assert math.isclose(naive["ulp_error"],
                            float(abs(-1074 * mpmath.log(2) - ref) / mpmath.ldexp(1, -43)),
                            rel_tol=1e-6)
