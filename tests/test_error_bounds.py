"""Herbie's bits of error and the Blanchard-Higham-Higham bounds, against values computed
here: positions read off numpy / ml_dtypes bit patterns, references and bounds with mpmath."""

from __future__ import annotations

import math
import random

import mpmath
import numpy as np
import pytest

import oracle as O
from conftest import num

from smoothcli.core.formats import FORMATS
from smoothcli.measure.bounds import ordinal


# ---------------------------------------------------------------------------------------------
# the ordering behind `bits`


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_ordinal_is_the_bit_pattern_for_every_float8_value(name):
    dt = O.np_dtype(name)
    for b in range(256):
        v = float(np.array([b], dtype=np.uint8).view(dt)[0])
        if math.isnan(v):
            continue
        assert ordinal(v, FORMATS[name]) == O.ordinal(v, name), (name, b, v)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_ordinal_is_the_bit_pattern_for_sampled_values(name):
    rng = random.Random(4)
    dt = O.np_dtype(name)
    L = O.LAYOUT[name]
    uint = {16: np.uint16, 32: np.uint32, 64: np.uint64}[L.width]
    patterns = [rng.getrandbits(L.width) for _ in range(3000)] + [0, 1, 2, (1 << L.frac_bits)]
    for b in patterns:
        v = float(np.array([b], dtype=uint).view(dt)[0])
        if math.isnan(v):
            continue
        assert ordinal(v, FORMATS[name]) == O.ordinal(v, name), (name, hex(b))
    inf_bits = ((1 << L.exp_bits) - 1) << L.frac_bits  # +inf's pattern follows max's
    assert ordinal(math.inf, FORMATS[name]) == inf_bits


# ---------------------------------------------------------------------------------------------
# bits in the output


def test_bits_column_matches_bit_pattern_distances(smooth_json):
    xs = ["1000", "1000"]
    doc = smooth_json("softmax", *xs, "--dtype", "all", "--method",
                      "shifted,shifted-exp-lse,naive")
    for r in doc["rows"]:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        g = O.softmax_exact(rx)
        want = [O.herbie_bits(num(v), gi, name) for v, gi in zip(r["value"], g)]
        got = [num(b) for b in r["element_bits"]]
        for a, b in zip(got, want):
            assert a == b or (math.isnan(a) and math.isnan(b)), (name, r["method"], got, want)
        assert num(r["bits"]) == max(want) or math.isnan(num(r["bits"]))
    by = {(r["dtype"], r["method"]): r for r in doc["rows"]}
    # float16 exp(−0.5) = 0.6064453125 against 0.5: (0.6064453125 − 0.5)·2^11 = 218 values
    assert by["float16", "shifted-exp-lse"]["bits"] == math.log2(219)
    # a NaN against a number costs the format's whole width
    assert by["float16", "naive"]["bits"] == 16 and by["float64", "naive"]["bits"] == 64


def test_bits_of_an_overflow_count_up_to_infinity(smooth_json):
    doc = smooth_json("lse", "710", "12", "--dtype", "float16,float8_e5m2", "--method", "naive")
    for r in doc["rows"]:
        name = r["dtype"]
        y = O.lse_exact([O.round_to(x, name) for x in ("710", "12")])
        assert num(r["value"]) == math.inf
        # by hand for float8_e5m2: 710 → 768 = 1.10b·2^9 is pattern 0x62 = 98, inf is 0x7C = 124
        assert r["bits"] == O.herbie_bits(math.inf, y, name)
    assert doc["rows"][1]["bits"] == math.log2(1 + 124 - 98)


# ---------------------------------------------------------------------------------------------
# the bounds


def _bound(thm, xs, y):
    n, lo, hi = len(xs), min(xs), max(xs)
    spread = max(abs(x - y) for x in xs)
    return {"3.2": 1 + (n + 1) / abs(y), "4.2": abs(y + n - lo) / abs(y), "3.3": n + 3,
            "3.4": abs(y) + spread + n + 2, "4.3": n + 2 + 2 * (hi - lo),
            "4.4": 1 + spread + abs(y + n - lo)}[thm]


LSE_THM = {"naive": "3.2", "shifted": "4.2", "log1p": "4.2", "online": "4.2"}
SM_THM = {"naive": "3.3", "shifted": "4.3", "log1p": "4.3", "online": "4.3", "exp-lse": "3.4",
          "shifted-exp-lse": "4.4", "log1p-exp-lse": "4.4", "online-exp-lse": "4.4"}


@pytest.mark.parametrize("xs", [["1.5", "-2", "0.25"], ["-3.5", "-1", "-1", "-0.125"]])
def test_bound_values_and_measured_error_in_units_of_u(smooth_json, xs):
    lse_doc = smooth_json("lse", *xs, "--dtype", "float16,bfloat16,float64", "--method", "all")
    sm_doc = smooth_json("softmax", *xs, "--dtype", "float16,bfloat16,float64", "--method",
                         "all")
    for r in lse_doc["rows"]:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        with mpmath.workdps(O.DPS):
            y = O.lse_exact(rx)
            u = O.facts(name)["u"]
            err_u = float(abs(mpmath.mpf(num(r["value"])) - y) / (u * abs(y)))
        assert math.isclose(r["bound"], _bound(LSE_THM[r["method"]], rx, float(y)),
                            rel_tol=1e-12)
        assert math.isclose(r["error_u"], err_u, rel_tol=1e-9, abs_tol=1e-12)
        assert f"Thm {LSE_THM[r['method']]}" in r["bound_rule"]
        assert r["exceeds_bound"] is (err_u > r["bound"] and r["bits"] > 0)
    for r in sm_doc["rows"]:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        with mpmath.workdps(O.DPS):
            g, y = O.softmax_exact(rx), O.lse_exact(rx)
            u = O.facts(name)["u"]
            worst = max(abs(mpmath.mpf(num(v)) - gi) for v, gi in zip(r["value"], g))
            err_u = float(worst / (u * max(g)))
        assert math.isclose(r["bound"], _bound(SM_THM[r["method"]], rx, float(y)),
                            rel_tol=1e-12)
        assert math.isclose(r["error_u"], err_u, rel_tol=1e-9, abs_tol=1e-12)
        assert f"Thm {SM_THM[r['method']]}" in r["bound_rule"]


def test_well_conditioned_rows_stay_within_their_bounds(smooth_json):
    doc = smooth_json("softmax", "1.5", "-2", "0.25", "3", "--dtype", "all", "--method", "all")
    for r in doc["rows"]:
        assert r["exceeds_bound"] is False, (r["dtype"], r["method"], r["bound_rule"])
    doc = smooth_json("lse", "1.5", "-2", "0.25", "3", "--dtype", "all", "--method", "all")
    for r in doc["rows"]:
        assert r["exceeds_bound"] is False, (r["dtype"], r["method"], r["bound_rule"])


def test_exceeded_rules_are_named(smooth_json, smooth):
    doc = smooth_json("lse", "710", "12", "--dtype", "float16", "--method", "naive")
    (r,) = doc["rows"]
    assert r["exceeds_bound"] is True and r["overflow"] is True
    assert "Thm 3.2" in r["bound_rule"] and r["bound_rule"].startswith("exceeds")
    # table view: the flags column names the theorem
    out = smooth("softmax", "1000", "1000", "--dtype", "float16", "--method",
                 "shifted-exp-lse", "--full").stdout
    assert "exceeds Thm 4.4" in out


def test_correctly_rounded_result_above_a_sub_u_bound_is_explained_not_flagged(smooth_json):
    # float8_e4m3fn LSE(6, 6) = 6.693 → 6.5 is the correctly rounded result; its error
    # 0.193/6.693 = 0.462u exceeds Thm 4.2 as stated, |y + 2 − 6|/|y| = 0.402u (< u, below what
    # any rounding can promise): said in bound_rule, not flagged.
    doc = smooth_json("lse", "6", "6", "--dtype", "float8_e4m3fn", "--method", "shifted")
    (r,) = doc["rows"]
    with mpmath.workdps(O.DPS):
        y = O.lse_exact([6, 6])
        b = float(abs(y + 2 - 6) / y)
        e = float(abs(mpmath.mpf(6.5) - y) / (y * O.facts("float8_e4m3fn")["u"]))
    assert r["value"] == 6.5 and r["bits"] == 0
    assert math.isclose(r["bound"], b, rel_tol=1e-12) and math.isclose(r["error_u"], e)
    assert e > b and r["exceeds_bound"] is False
    assert "correctly rounded" in r["bound_rule"]


def test_json_keeps_old_keys_and_adds_new_ones(smooth_json):
    doc = smooth_json("lse", "1", "2", "--dtype", "float16")
    old = {"dtype", "method", "value", "reference", "reference_decimal", "abs_error",
           "rel_error", "ulp_error", "overflow", "underflow", "nan", "flushed_terms", "sumexp",
           "accumulation", "reference_typed"}
    new = {"bits", "bound", "error_u", "exceeds_bound", "bound_rule", "acc_dtype"}
    for r in doc["rows"]:
        assert old | new <= set(r)
        assert isinstance(r["exceeds_bound"], bool) and r["acc_dtype"] == "float16"
    doc = smooth_json("softmax", "1", "2", "--dtype", "float16")
    for r in doc["rows"]:
        assert old | new | {"element_bits"} <= set(r)
