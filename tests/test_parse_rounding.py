"""Stage 1–2: decimal tokens are read exactly and rounded once, to nearest, ties to even.

Every expected value comes from tests/oracle.py (neighbour enumeration with numpy.nextafter and
exact Fraction distances, or the exhaustive float16 table) or from a hand derivation written next
to it, never from smoothcli.core.rounding.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oracle
from smoothcli.core.formats import get_float_format
from smoothcli.core.errors import InputError
from smoothcli.core.numbers import parse_number
from smoothcli.core.rounding import round_number

DTYPES = {"float16": np.float16, "float32": np.float32, "float64": np.float64}


def smooth_round(token: str, dtype: str) -> float:
    return round_number(parse_number(token), get_float_format(dtype))


def test_point_one_in_each_dtype_matches_hand_derivation_and_oracle(smooth_json):
    # 0.1 lies in [2**-4, 2**-3): float16 spacing 2**(-4-10); 0.1 * 2**14 = 1638.4 -> 1638.
    f16 = 1638 * 2.0**-14
    assert f16 == 0.0999755859375
    # float32 spacing 2**(-4-23): 0.1 * 2**27 = 13421772.8 -> 13421773.
    f32 = 13421773 * 2.0**-27
    # float64 spacing 2**(-4-52): 0.1 * 2**56 = 7205759403792793.6 -> ...794.
    f64 = 7205759403792794 * 2.0**-56
    for dt, want in (("float16", f16), ("float32", f32), ("float64", f64)):
        assert oracle.round_to(Fraction("0.1"), DTYPES[dt]) == want
        assert smooth_round("0.1", dt) == want
    doc = smooth_json("lse", "0.1")
    (inp,) = doc["inputs"]
    assert inp["text"] == "0.1"
    assert inp["rounded"] == {"float16": f16, "float32": f32, "float64": f64}
    assert inp["changed"] == {"float16": True, "float32": True, "float64": True}
    assert Decimal(f32) == Decimal("0.100000001490116119384765625")


def test_exact_decimal_of_rounded_input_shown_in_table(smooth):
    r = smooth("lse", "0.1", "--dtype", "float16")
    assert r.exit_code == 0
    assert "0.0999755859375" in r.stdout  # the example, shown exactly


@pytest.mark.parametrize("token, dtype, want", [
    # float16 around 1: spacing 2**-10.  1 + 2**-11 is the midpoint of 1 (significand 1024,
    # even) and 1 + 2**-10 (1025, odd): ties go to 1.  1 + 3*2**-11 lies between 1025 (odd) and
    # 1026 (even): ties go up.
    ("1.00048828125", "float16", 1.0),
    ("1.00146484375", "float16", 1 + 2 * 2.0**-10),
    # Around 2048 the float16 spacing is 2: 2049 -> 2048 (1024 even), 2051 -> 2052 (1026 even).
    ("2049", "float16", 2048.0),
    ("2051", "float16", 2052.0),
    ("-2051", "float16", -2052.0),
    # float32 at 2**24, float64 at 2**53: odd integers are midpoints.
    ("16777217", "float32", 16777216.0),
    ("16777219", "float32", 16777220.0),
    ("9007199254740993", "float64", 9007199254740992.0),
    ("9007199254740995", "float64", 9007199254740996.0),
])
def test_ties_to_even(token, dtype, want):
    assert oracle.round_to(Fraction(token), DTYPES[dtype]) == want
    assert smooth_round(token, dtype) == want


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_subnormals_and_the_tie_at_half_the_smallest_subnormal(dtype):
    f = oracle.facts(DTYPES[dtype])
    s = f["subnormal"]  # 2**(emin - p + 1)
    cases = {
        s: s,                          # representable
        s / 2: 0,                      # tie between 0 (even) and s (odd): 0
        s / 2 + s / 2**40: s,          # just above the tie
        s / 2 - s / 2**40: 0,          # just below
        3 * s / 2: 2 * s,              # tie between s (odd) and 2s (even): 2s
        5 * s / 2: 2 * s,              # tie between 2s (even) and 3s: 2s
        f["tiny"] - s / 2: f["tiny"],  # tie between the largest subnormal (odd) and 2**emin
    }
    for q, want in cases.items():
        token = _decimal(q)
        assert oracle.round_to(q, DTYPES[dtype]) == float(want), (dtype, token)
        assert smooth_round(token, dtype) == float(want), (dtype, token)


def _decimal(q: Fraction) -> str:
    """The exact decimal of a dyadic rational (finite), as a token."""
    n, d = q.numerator, q.denominator
    k = d.bit_length() - 1
    assert d == 1 << k
    digits = n * 5**k  # q = n / 2**k = n * 5**k / 10**k
    return f"{digits}e-{k}"


def test_float64_subnormal_boundary_matches_python_float():
    # Python's float() of a decimal string is correctly rounded (David Gay's algorithm), an
    # independent implementation for float64.
    for token in ["2.4703282292062327e-324", "2.4703282292062328e-324", "1e-324", "3e-324",
                  "5e-324", "7.4e-324", "7.5e-324", "2.2250738585072011e-308",
                  "2.2250738585072012e-308", "4.9406564584124654e-324"]:
        assert smooth_round(token, "float64") == float(token), token
        assert oracle.round_to(Fraction(token), np.float64) == float(token), token


@pytest.mark.parametrize("token, dtype, want", [
    ("65504", "float16", 65504.0),
    ("65519.99", "float16", 65504.0),        # below the midpoint 65520 of 65504 and 2**16
    ("65519.999999999999999", "float16", 65504.0),
    ("65520", "float16", math.inf),          # the midpoint: ties to the even 2**16 -> inf
    ("-65520", "float16", -math.inf),
    ("1e5", "float16", math.inf),
    ("340282356779733661637539395458142568447", "float32", 3.4028234663852886e38),
    ("340282356779733661637539395458142568448", "float32", math.inf),  # 2**128 - 2**103
    ("1.7976931348623158e308", "float64", 1.7976931348623157e308),
])
def test_overflow_to_inf_follows_the_unbounded_exponent_rule(token, dtype, want):
    # IEEE 754 §7.4: overflow iff the result rounded with an unbounded exponent exceeds max.
    assert oracle.round_to(Fraction(token), DTYPES[dtype]) == want
    assert smooth_round(token, dtype) == want


def test_float32_overflow_boundary_is_max_plus_half_ulp():
    f = oracle.facts(np.float32)
    assert f["max"] + Fraction(2) ** (127 - 23) / 2 == Fraction(2**128 - 2**103)
    assert str(2**128 - 2**103) == "340282356779733661637539395458142568448"


@pytest.mark.parametrize("token, dtype, wrong, right", [
    # 1 + 2**-11 + 1e-18: just ABOVE the float16 midpoint 1.00048828125.  float64 rounds it
    # onto the midpoint (1e-18 < 2**-53), and numpy then rounds the tie to even: 1.0.  Rounded
    # once, it is above the midpoint: 1 + 2**-10.
    ("1.000488281250000001", "float16", 1.0, 1.0009765625),
    # 1 + 3*2**-11 - 1e-18: just BELOW the midpoint of 1 + 2**-10 (odd) and 1 + 2**-9 (even).
    # Through float64 it lands on the midpoint and goes up; rounded once it goes down.
    ("1.001464843749999999", "float16", 1.001953125, 1.0009765625),
    # float32: 1 + 2**-24 + 1e-30.
    ("1.000000059604644775390625000001", "float32", 1.0, 1 + 2.0**-23),
])
def test_double_rounding_through_float64_is_avoided(token, dtype, wrong, right):
    assert Fraction(float(token)) in (Fraction(1) + Fraction(1, 2**11),
                                      Fraction(1) + Fraction(3, 2**11),
                                      Fraction(1) + Fraction(1, 2**24))  # float64 hit a midpoint
    via_float64 = float(DTYPES[dtype](float(token)))
    assert via_float64 == wrong  # the trap is real
    assert oracle.round_to(Fraction(token), DTYPES[dtype]) == right
    assert smooth_round(token, dtype) == right


def test_double_rounding_case_through_the_cli(smooth_json):
    doc = smooth_json("lse", "1.000488281250000001", "--dtype", "float16,float32")
    (inp,) = doc["inputs"]
    assert inp["rounded"]["float16"] == 1.0009765625
    # float32 spacing at 1 is 2**-23 ≈ 1.19e-7: 2**-11 + 1e-18 is 4096 spacings + a bit.
    assert inp["rounded"]["float32"] == oracle.round_to(Fraction("1.000488281250000001"),
                                                        np.float32) == 1 + 4096 * 2.0**-23
    assert inp["changed"]["float16"] and inp["changed"]["float32"]


@pytest.mark.parametrize("dtype", list(DTYPES))
def test_negative_zero_keeps_its_sign(dtype, smooth_json):
    assert math.copysign(1, smooth_round("-0", dtype)) == -1
    assert math.copysign(1, smooth_round("-0.0e10", dtype)) == -1
    assert math.copysign(1, smooth_round("0", dtype)) == 1
    # A negative number that underflows to zero rounds to -0 (IEEE 754 §6.3: the sign of an
    # inexact zero result is the sign of the exact value).
    assert math.copysign(1, smooth_round("-1e-400", dtype)) == -1
    doc = smooth_json("lse", "-0", "--dtype", dtype)
    v = doc["inputs"][0]["rounded"][dtype]
    assert v == 0 and math.copysign(1, v) == -1
    assert doc["inputs"][0]["changed"][dtype] is False


def test_float16_exhaustive_midpoints_against_the_bit_table():
    """Every float16 midpoint, and a hair on either side, against the decoded-bits table."""
    from smoothcli.core.rounding import round_fraction

    fmt = get_float_format("float16")
    table = oracle.all_values("float16")
    eps = Fraction(1, 2**40)
    for i in range(0, len(table) - 1, 7):  # every 7th of the 31743 gaps (~1 s)
        mid = (table[i] + table[i + 1]) / 2
        for q in (mid, mid + eps * mid, mid - eps * mid):
            want = oracle.round_float16_by_table(q, table)
            assert round_fraction(q, fmt) == want, q
            assert round_fraction(-q, fmt) == -want, q
    top = (table[-1] + Fraction(2**16)) / 2
    assert oracle.round_float16_by_table(top, table) == math.inf
    assert round_fraction(top, fmt) == math.inf
    assert round_fraction(top - eps, fmt) == 65504.0


decimals = st.builds(
    lambda m, e: f"{m}e{e}",
    st.integers(min_value=-10**25, max_value=10**25),
    st.integers(min_value=-340, max_value=300),
)


@settings(max_examples=300, deadline=None)
@given(decimals)
def test_random_decimals_round_like_the_oracle(token):
    q = Fraction(token)
    if abs(q) >= Fraction(2**1024 - 2**970):  # would round to inf in float64: refused
        with pytest.raises(InputError):
            parse_number(token)
        return
    for dt, npdt in DTYPES.items():
        want = oracle.round_to(q, npdt)
        got = smooth_round(token, dt)
        assert got == want or (math.isnan(got) and math.isnan(want)), (token, dt)
        if dt == "float64":
            assert got == float(token)  # Python's correctly rounded parser agrees


@pytest.mark.parametrize("token, value", [
    ("1.", 1.0), (".5", 0.5), ("-.5", -0.5), ("+5", 5.0), ("1E3", 1000.0), ("  7 ", 7.0),
    ("-1e5", -100000.0),
])
def test_accepted_decimal_forms(token, value):
    n = parse_number(token)
    assert n.exact == Fraction(value)


@pytest.mark.parametrize("token, special", [
    ("inf", math.inf), ("-inf", -math.inf), ("Infinity", math.inf), ("-INF", -math.inf),
    ("+inf", math.inf),
])
def test_infinities(token, special):
    n = parse_number(token)
    assert n.exact is None and n.special == special
    for dt in DTYPES:
        assert round_number(n, get_float_format(dt)) == special


def test_nan_token():
    for token in ("nan", "NaN", "NAN"):
        n = parse_number(token)
        assert n.exact is None and math.isnan(n.special)


@pytest.mark.parametrize("token", ["abc", "1_000", "١٢", "0x1p3", "1e", "--5", "1..2", "",
                                   "   ", "1,5", "nan(1)", "e5", "1e400", "-1e400",
                                   "1.7976931348623159e308"])
def test_rejected_tokens_raise_input_error_naming_them(token):
    with pytest.raises(InputError) as ei:
        parse_number(token)
    msg = str(ei.value)
    assert "\n" not in msg
    if token.strip():
        assert repr(token) in msg
