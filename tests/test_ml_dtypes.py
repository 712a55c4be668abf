"""bfloat16, float8_e4m3fn, float8_e5m2: format facts, correct rounding into them, the
exact range of exp in all six dtypes, E4M3FN's overflow to NaN, ml_dtypes' bfloat16 sum stall, and
every subcommand on the new dtypes — against oracles computed here (tests/oracle.py: formats
decoded from their bit layouts, rounding by exact comparison with the neighbours), never against
smoothcli's own numbers."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle as O
from conftest import num
from oracle import decimal_is_correct

from smoothcli.core.formats import FORMATS
from smoothcli.core.rounding import round_fraction


# ---------------------------------------------------------------------------------------------
# format facts


@pytest.mark.parametrize("name", O.ALL)
def test_format_facts_match_the_bit_layout(name):
    fmt, F = FORMATS[name], O.facts(name)
    assert Fraction(float(F["max"])) == fmt.max_finite
    assert Fraction(float(F["tiny"])) == fmt.smallest_normal
    assert Fraction(float(F["subnormal"])) == fmt.smallest_subnormal
    assert Fraction(float(F["eps"])) == fmt.eps
    assert Fraction(float(F["u"])) == fmt.unit_roundoff
    assert fmt.has_inf is F["has_inf"]
    assert np.dtype(fmt.np).itemsize * 8 == F["width"]


def test_e4m3fn_max_is_448_and_overflow_is_nan():
    # Hand derivation: E4M3FN's top exponent field (15, unbiased 8) holds numbers; 1.110b·2^8 =
    # 448 is the largest, 1.111b there is NaN, and there is no infinity.
    assert FORMATS["float8_e4m3fn"].max_finite == 448
    assert round_fraction(Fraction(464), FORMATS["float8_e4m3fn"]) == 448  # tie → even 1.110b
    assert math.isnan(round_fraction(Fraction(465), FORMATS["float8_e4m3fn"]))
    assert math.isnan(round_fraction(Fraction(10) ** 6, FORMATS["float8_e4m3fn"]))
    # E5M2 is IEEE-like: 57344 = 1.11b·2^15; beyond the midpoint 61440 it is inf
    assert round_fraction(Fraction(61439), FORMATS["float8_e5m2"]) == 57344
    assert round_fraction(Fraction(61440), FORMATS["float8_e5m2"]) == math.inf


# ---------------------------------------------------------------------------------------------
# correct rounding: the oracle against smoothcli.core.rounding


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_float8_rounding_every_midpoint(name):
    values = O.all_values(name)
    for x in O.neighbour_points(values):
        q = x
        want = O.round_to(x, name)
        got = round_fraction(q, FORMATS[name])
        assert (got == want) or (math.isnan(got) and math.isnan(want)), (name, float(x))
        got_neg = round_fraction(-q, FORMATS[name])
        assert (got_neg == -want) or (math.isnan(got_neg) and math.isnan(want))


def test_bfloat16_rounding_midpoints_sampled():
    values = O.all_values("bfloat16")
    # every binade's first and last pairs, the subnormal/normal boundary, the overflow boundary
    picks = sorted(set(list(range(0, 300)) + list(range(len(values) - 300, len(values)))
                       + list(range(100, len(values), 97))))
    sample = [values[i] for i in picks if i < len(values)]
    for x in O.neighbour_points(sample[:len(sample) - 1]) + O.neighbour_points(values[-3:]):
        q = x
        want = O.round_to(x, "bfloat16")
        assert round_fraction(q, FORMATS["bfloat16"]) == want, float(x)


@settings(max_examples=300, deadline=None)
@given(mant=st.integers(1, 10**12), exp10=st.integers(-50, 42),
       name=st.sampled_from(O.ML))
def test_decimals_round_like_the_mpmath_model(mant, exp10, name):
    text = f"{mant}e{exp10}"
    want = O.round_to(text, name)
    got = round_fraction(Fraction(text), FORMATS[name])
    assert got == want or (math.isnan(got) and math.isnan(want)), (text, name)


def test_rounding_where_a_cast_through_float32_double_rounds(smooth_json):
    """ml_dtypes converts float64 to its types through float32 (jax-ml/ml_dtypes PR #401), so
    431.99999999997 — below the midpoint 432 of 416 and 448 — becomes 448 that way (float32 rounds
    it to exactly 432, a tie, which goes to the even 448).  The tool rounds once, from the
    decimal: 416, as the model says; likewise just above bfloat16's midpoint 1 + 2^-8."""
    want = {"431.99999999997": {"float8_e4m3fn": 416.0},
            "53248.00000000745": {"float8_e5m2": 57344.0},
            "1.00390625000001": {"bfloat16": 1.0078125}}
    for tok in want:
        (entry,) = smooth_json("lse", tok, "--dtype", ",".join(O.ML))["inputs"]
        for name in O.ML:
            got, model = num(entry["rounded"][name]), O.round_to(tok, name)
            assert got == model or (math.isnan(got) and math.isnan(model))
            if name in want[tok]:
                assert got == want[tok][name]


def test_cli_rounds_typed_inputs_like_the_model(smooth_json):
    tokens = ["0.1", "464", "470", "1e-3", "0.0009765625", "0.00097657", "-6.7", "57344",
              "61440", "3.3895313892515355e38", "3.3961e38", "1e-45"]
    for tok in tokens:  # one at a time: LSE of one value is that value, cheap to reference
        (entry,) = smooth_json("lse", tok, "--dtype", ",".join(O.ML))["inputs"]
        assert entry["text"] == tok
        for name in O.ML:
            got, want = num(entry["rounded"][name]), O.round_to(tok, name)
            assert got == want or (math.isnan(got) and math.isnan(want)), (tok, name)


# ---------------------------------------------------------------------------------------------
# exp-range: the exact thresholds of all six dtypes


def _threshold_x(name: str, target, above: bool) -> float:
    """The largest value x of ``name`` with exp(x) < target (above=False), or the smallest with
    exp(x) > target (above=True), found by stepping through the format with nextafter and
    deciding each step with mpmath's exp."""
    dt = O.np_dtype(name)
    F = O.facts(name)
    with mpmath.workdps(O.DPS):
        if isinstance(target, Fraction):  # exact at 400 digits: a power of two or its half
            target = mpmath.mpf(target.numerator) / target.denominator
        start = O.round_to(mpmath.log(target), name)
        x = dt.type(start)
        big = dt.type(float(F["max"]))

        def ex(v):
            return mpmath.exp(mpmath.mpf(float(v)))

        if not above:
            while ex(x) >= target:
                x = np.nextafter(x, -big)
            while ex(np.nextafter(x, big)) < target:
                x = np.nextafter(x, big)
        else:
            while ex(x) <= target:
                x = np.nextafter(x, big)
            while ex(np.nextafter(x, -big)) > target:
                x = np.nextafter(x, -big)
        return float(x)


def _thresholds(name):
    F = O.facts(name)
    with mpmath.workdps(O.DPS):
        # exp(x) rounds past the largest finite value iff it exceeds max + ulp(max)/2 (E4M3FN:
        # 464, whose tie would go to the even 448 — but exp of a nonzero rational is never a
        # rational, Lindemann); to 0 iff ≤ sub/2 (the tie goes to even 0); to a normal number iff
        # ≥ tiny − sub/2.
        ulp_max = mpmath.ldexp(1, int(mpmath.floor(mpmath.log(F["max"], 2))) - F["p"] + 1)
        over = F["max"] + ulp_max / 2
        return {"largest_finite_x": _threshold_x(name, over, above=False),
                "smallest_nonzero_x": _threshold_x(name, F["subnormal"] / 2, above=True),
                "smallest_normal_x": _threshold_x(name, F["tiny"] - F["subnormal"] / 2, above=True)}


def test_exp_range_all_six_dtypes_exactly(smooth_json):
    doc = smooth_json("exp-range", "--dtype", "all", expect_exit=0)
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert set(rows) == set(O.ALL)
    for name in O.ALL:
        want = _thresholds(name)
        for key, v in want.items():
            assert rows[name][key] == v, (name, key, rows[name][key], v)
        assert rows[name]["numpy_agrees"] is True, rows[name]["disagreements"]
        assert rows[name]["overflow_value"] == ("nan" if name == "float8_e4m3fn" else "inf")
    # The numbers, confirmed by the independent search above:
    expected = {"float16": (11.0859375, -17.328125), "bfloat16": (88.5, -92.5),
                "float8_e4m3fn": (6.0, -6.5), "float8_e5m2": (10.0, -10.0),
                "float64": (709.782712893384, -745.1332191019411),
                "float32": (88.72283172607421875, -103.972076416015625)}
    for name, (hi, lo) in expected.items():
        assert (rows[name]["largest_finite_x"], rows[name]["smallest_nonzero_x"]) == (hi, lo)


def test_exp_overflow_of_e4m3fn_is_nan_in_numpy_too():
    # the tool's claim "beyond 6.0 exp is NaN" is what ml_dtypes computes: exp(6.5) ≈ 665 > 464
    e4 = O.np_dtype("float8_e4m3fn").type
    assert float(np.exp(e4(6.0))) == O.round_to(mpmath.exp(6), "float8_e4m3fn") == 416.0
    assert math.isnan(float(np.exp(e4(6.5))))


# ---------------------------------------------------------------------------------------------
# overflow in E4M3FN is NaN: the flags must show it


def test_e4m3fn_naive_sum_overflows_to_nan_and_is_flagged(smooth_json):
    # exp(6) = 403.43 rounds to 416 (spacing 32 in [256, 448]); 416 + 416 = 832 > 464 → NaN.
    doc = smooth_json("lse", "6", "6", "--dtype", "float8_e4m3fn", "--method",
                      "naive,shifted,log1p,online")
    rows = {r["method"]: r for r in doc["rows"]}
    naive = rows["naive"]
    assert math.isnan(num(naive["value"])) and math.isnan(num(naive["sumexp"]))
    assert naive["overflow"] is True and naive["nan"] is True
    y = O.lse_exact([6, 6])  # 6 + log 2 = 6.693...
    assert decimal_is_correct(naive["reference_decimal"], y)
    for m in ("shifted", "log1p", "online"):
        r = rows[m]
        assert num(r["value"]) == O.round_to(y, "float8_e4m3fn") == 6.5
        assert (r["overflow"], r["nan"], r["underflow"]) == (False, False, False)
        assert r["bits"] == 0


def test_input_that_overflows_e4m3fn_is_flagged(smooth_json):
    doc = smooth_json("lse", "710", "12", "--dtype", "float8_e4m3fn", "--check",
                      expect_exit=1)
    assert math.isnan(num(doc["inputs"][0]["rounded"]["float8_e4m3fn"]))  # 710 > 464
    for r in doc["rows"]:
        assert r["overflow"] is True and math.isnan(num(r["value"]))
    assert any("overflow" in p for p in doc["problems"])


# ---------------------------------------------------------------------------------------------
# ml_dtypes' bfloat16 sum stall


def test_bfloat16_sum_stall_is_real_and_shown(smooth_json):
    # ml_dtypes' np.sum of bfloat16 has no pairwise loop: a strict bfloat16 sum.  By hand:
    # bfloat16 has p = 8, so from 256 on the spacing is 2 and 256 + 1 is a tie that goes to the
    # even 256.  The model's strict sum agrees; float16's np.sum keeps float32 partials.
    import ml_dtypes

    assert float(np.ones(5000, ml_dtypes.bfloat16).sum()) == 256.0
    assert float(np.ones(5000, np.float16).sum()) == 5000.0
    M = O.Model("bfloat16")
    s = 0.0
    for _ in range(600):
        s = M.add(s, 1.0)
    assert s == 256.0
    zeros = ["0"] * 5000
    doc = smooth_json("lse", *zeros, "--dtype", "bfloat16,float16", "--method", "shifted",
                      "--sum", "pairwise")
    rows = {r["dtype"]: r for r in doc["rows"]}
    assert rows["bfloat16"]["sumexp"] == 256.0
    assert "256" in rows["bfloat16"]["accumulation"]
    # log(256) in bfloat16 = 5.53125, exact LSE = log 5000 = 8.517...
    assert rows["bfloat16"]["value"] == O.round_to(mpmath.log(256), "bfloat16") == 5.53125
    assert decimal_is_correct(rows["bfloat16"]["reference_decimal"], O.lse_exact([0] * 5000))
    assert rows["float16"]["sumexp"] == 5000.0
    # a float32 accumulator (--acc) removes the stall
    doc = smooth_json("lse", *zeros, "--dtype", "bfloat16", "--method", "shifted", "--sum",
                      "pairwise", "--acc", "float32")
    r = doc["rows"][0]
    assert r["sumexp"] == 5000.0 and r["acc_dtype"] == "float32"
    with mpmath.workdps(O.DPS):
        assert r["value"] == O.round_to(mpmath.log(5000), "bfloat16") == 8.5


# ---------------------------------------------------------------------------------------------
# every subcommand on the new dtypes


CASES = [["1.5", "-2", "0.25"], ["3", "3.5", "-1", "0"]]


@pytest.mark.parametrize("xs", CASES)
def test_lse_and_softmax_references_on_new_dtypes(smooth_json, xs):
    lse_doc = smooth_json("lse", *xs, "--dtype", ",".join(O.ML), "--method", "all")
    sm_doc = smooth_json("softmax", *xs, "--dtype", ",".join(O.ML), "--method", "all")
    for name in O.ML:
        rx = [O.round_to(x, name) for x in xs]
        y, g = O.lse_exact(rx), O.softmax_exact(rx)
        lrows = [r for r in lse_doc["rows"] if r["dtype"] == name]
        assert {r["method"] for r in lrows} == {"naive", "shifted", "log1p", "online"}
        for r in lrows:
            assert decimal_is_correct(r["reference_decimal"], y)
            want = O.model_lse(rx, name, r["method"])
            got = num(r["value"])
            assert got == want or (math.isnan(got) and math.isnan(want)), (name, r["method"])
        srows = [r for r in sm_doc["rows"] if r["dtype"] == name]
        assert len(srows) == 8
        for r in srows:
            for text, gi in zip(r["reference_decimal"], g):
                assert decimal_is_correct(text, gi)
            want = O.model_softmax(rx, name, r["method"])
            for v, w in zip(r["value"], want):
                assert num(v) == w or (math.isnan(num(v)) and math.isnan(w)), (name, v, w)


def test_bounds_on_new_dtypes(smooth_json):
    xs = ["3", "3.5", "-1"]
    doc = smooth_json("bounds", *xs, "--dtype", ",".join(O.ML), "--method", "shifted,log1p",
                      "--k", "2")
    assert {r["dtype"] for r in doc["rows"]} == set(O.ML)
    for r in doc["rows"]:
        if r["function"] != "lse":
            continue
        rx = [O.round_to(x, r["dtype"]) for x in xs]
        assert r["max"] == max(rx)
        assert decimal_is_correct(r["reference_decimal"], O.lse_exact(rx))
        assert r["inside"] is True
        (sm,) = [s for s in doc["rows"] if s["function"] == "smooth_max"
                 and (s["dtype"], s["method"]) == (r["dtype"], r["method"])]
        with mpmath.workdps(O.DPS):
            want = O.lse_exact([2 * v for v in rx]) / 2
        assert decimal_is_correct(sm["reference_decimal"], want)


def test_bounds_flags_a_dtype_the_inputs_overflow(smooth_json):
    # 710 is beyond float8_e4m3fn's max 448 (no inf there: NaN): its rows say so
    doc = smooth_json("bounds", "710", "12", "--dtype", "float8_e4m3fn,bfloat16")
    for r in doc["rows"]:
        e4 = r["dtype"] == "float8_e4m3fn"
        assert r["inputs_overflowed"] is e4 and (r["overflow"] or not e4)
        assert (r["inside"] is None) is e4
        if not e4 and r["method"] == "shifted":  # bfloat16: 710 rounds to 712, all fine
            assert r["overflow"] is False and r["inside"] is True


def test_underflow_on_new_dtypes(smooth_json):
    # -20 and -30: exp underflows to 0 in both float8 formats (E5M2's smallest subnormal is
    # 2^-16 = 1.5e-5 > e^-20), and the naive LSE is -inf; the shifted one is right.
    doc = smooth_json("underflow", "-20", "-30", "--dtype", "float8_e5m2,float8_e4m3fn,bfloat16",
                      "--method", "naive,log1p")
    for r in doc["rows"]:
        rx = [O.round_to(x, r["dtype"]) for x in ("-20", "-30")]
        y = O.lse_exact(rx)
        assert decimal_is_correct(r["reference_decimal"], y)
        if r["method"] == "log1p":
            assert num(r["value"]) == O.round_to(y, r["dtype"])
        elif r["dtype"] == "float8_e5m2":
            assert num(r["value"]) == -math.inf and r["underflow"] is True
        elif r["dtype"] == "float8_e4m3fn":  # log(0) = -inf does not exist there: NaN
            assert math.isnan(num(r["value"]))
            assert r["underflow"] is True and r["nan"] is True and r["overflow"] is False
        # bfloat16 reaches e^-92.5: exp(-20) is fine there
    terms = [t for t in doc["terms"] if t["dtype"] == "float8_e5m2"]
    assert [t["exp_class"] for t in terms] == ["zero", "zero"]


def test_unknown_dtype_lists_the_new_ones(smooth):
    r = smooth("lse", "1", "--dtype", "float8")
    assert r.exit_code == 2
    assert "float8_e4m3fn" in r.stderr and "bfloat16" in r.stderr
