"""The methods — log1p (Blanchard, Higham & Higham 2021, Alg. 4.1), the online
normaliser (Milakov & Gimelshein 2018), the division-free softmax forms, --acc — in every dtype,
against tests/oracle.py: an mpmath reference and a from-scratch model of each algorithm in
which every operation is exact (mpmath) and then rounded to the dtype (mpmath rounding)."""

from __future__ import annotations

import math

import mpmath
import pytest

import oracle as O
from conftest import num
from oracle import decimal_is_correct

LSE_METHODS = ["naive", "shifted", "log1p", "online"]
SOFTMAX_METHODS = ["naive", "shifted", "log1p", "online", "exp-lse", "shifted-exp-lse",
                   "log1p-exp-lse", "online-exp-lse"]
INPUTS = [["0.5", "-1.25", "2"], ["-3", "-3", "-7.5", "-3.25"], ["10", "9", "-4"]]


@pytest.mark.parametrize("xs", INPUTS)
def test_every_dtype_and_lse_method_against_the_model(smooth_json, xs):
    doc = smooth_json("lse", *xs, "--dtype", "all", "--method", "all", "--sum", "sequential")
    seen = set()
    for r in doc["rows"]:
        name, method = r["dtype"], r["method"]
        seen.add((name, method))
        rx = [O.round_to(x, name) for x in xs]
        assert decimal_is_correct(r["reference_decimal"], O.lse_exact(rx))
        want = O.model_lse(rx, name, method)
        got = num(r["value"])
        assert got == want or (math.isnan(got) and math.isnan(want)), (name, method, got, want)
    assert seen == {(d, m) for d in O.ALL for m in LSE_METHODS}


@pytest.mark.parametrize("xs", INPUTS)
def test_every_dtype_and_softmax_method_against_the_model(smooth_json, xs):
    doc = smooth_json("softmax", *xs, "--dtype", "all", "--method", "all",
                      "--sum", "sequential")
    assert {(r["dtype"], r["method"]) for r in doc["rows"]} == {
        (d, m) for d in O.ALL for m in SOFTMAX_METHODS}
    for r in doc["rows"]:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        for text, g in zip(r["reference_decimal"], O.softmax_exact(rx)):
            assert decimal_is_correct(text, g)
        want = O.model_softmax(rx, name, r["method"])
        for v, w in zip(r["value"], want):
            assert num(v) == w or (math.isnan(num(v)) and math.isnan(w)), (name, r["method"])


def test_default_methods_are_still_naive_and_shifted(smooth_json):
    assert [r["method"] for r in smooth_json("lse", "1", "2", "--dtype", "float32")["rows"]] \
        == ["naive", "shifted"]
    assert [r["method"] for r in smooth_json("softmax", "1", "2", "--dtype",
                                             "float32")["rows"]] == ["naive", "shifted"]


def test_log1p_keeps_the_tail_that_shifted_rounds_away(smooth_json):
    # float16 LSE(0, -10): exp(-10) = 4.54e-5 < u = 2^-11, so 1 + exp(-10) rounds to 1 and the
    # shifted formula returns log(1) = 0; Alg. 4.1 computes log1p(4.54e-5) = 4.54e-5.
    doc = smooth_json("lse", "0", "-10", "--dtype", "float16", "--method",
                      "shifted,log1p,online")
    rows = {r["method"]: r for r in doc["rows"]}
    with mpmath.workdps(O.DPS):
        y = O.lse_exact([0, -10])
        assert rows["shifted"]["value"] == 0.0
        t = O.round_to(mpmath.exp(-10), "float16")
        assert rows["log1p"]["value"] == O.round_to(mpmath.log1p(t), "float16")
    assert rows["log1p"]["value"] == O.round_to(y, "float16")
    assert rows["log1p"]["bits"] == 0
    # 0 against 4.54e-5 = 762 subnormal steps of 2^-24: log2(763) bits
    assert rows["shifted"]["bits"] == O.herbie_bits(0.0, y, "float16") == math.log2(763)
    assert rows["online"]["value"] == 0.0  # m + log(d) rounds the tail away too


def test_division_free_softmax_loses_accuracy_in_float16(smooth_json):
    """BHH §3/§4: exp(x − LSE) carries LSE's absolute error u·|LSE| into the exponent.  float16
    softmax(1000, 1000): LSE = 1000 + log 2 = 1000.69 rounds to 1000.5 (spacing 0.5 there), and
    exp(1000 − 1000.5) = exp(−0.5) = 0.6065 rounds to 0.6064453125, not 0.5."""
    doc = smooth_json("softmax", "1000", "1000", "--dtype", "float16,bfloat16", "--method",
                      "shifted,log1p,online,exp-lse,shifted-exp-lse,log1p-exp-lse")
    rows = {(r["dtype"], r["method"]): r for r in doc["rows"]}
    with mpmath.workdps(O.DPS):
        lse16 = O.round_to(1000 + mpmath.log(2), "float16")
        assert lse16 == 1000.5
        far = O.round_to(mpmath.exp(1000 - mpmath.mpf(lse16)), "float16")
    assert far == 0.6064453125
    for m in ("shifted-exp-lse", "log1p-exp-lse"):
        r = rows["float16", m]
        assert r["value"] == [far, far]
        assert r["reference"] == [0.5, 0.5]
        assert abs(r["output_sum"] - 1) > 0.2
        assert r["exceeds_bound"] is True and "Thm 4.4" in r["bound_rule"]
    for m in ("shifted", "log1p", "online"):  # the divide forms are exact here
        assert rows["float16", m]["value"] == [0.5, 0.5]
        assert rows["float16", m]["bits"] == 0
    # naive division-free: exp(1000) overflows float16, LSE = inf, exp(1000 − inf) = 0
    assert rows["float16", "exp-lse"]["value"] == [0.0, 0.0]
    assert rows["float16", "exp-lse"]["overflow"] is True
    # bfloat16: 1000.69 rounds to 1000 (spacing 4), exp(0) = 1 for both
    assert rows["bfloat16", "shifted-exp-lse"]["value"] == [1.0, 1.0]


def test_online_guards_all_minus_inf(smooth_json):
    doc = smooth_json("lse", "-inf", "-inf", "--dtype", "float16,float64,bfloat16,float8_e5m2",
                      "--method", "online,log1p")
    for r in doc["rows"]:
        assert num(r["value"]) == -math.inf
        assert (r["nan"], r["overflow"], r["underflow"]) == (False, False, False)
    doc = smooth_json("softmax", "-inf", "-inf", "--dtype", "float32", "--method", "online")
    (r,) = doc["rows"]
    assert all(math.isnan(num(v)) for v in r["value"])  # undefined, as the exact value
    assert r["nan"] is False


def test_online_with_leading_minus_inf_and_a_rising_max(smooth_json):
    # -inf first (the guarded step), then a max that moves three times: every rescaling is
    # exercised; the model runs the same recurrence with exact-then-rounded steps.
    xs = ["-inf", "-2", "0.5", "-1", "3", "2.75"]
    doc = smooth_json("lse", *xs, "--dtype", "float16,float32,bfloat16,float8_e4m3fn",
                      "--method", "online")
    for r in doc["rows"]:
        name = r["dtype"]
        rx = [O.round_to(x, name) for x in xs]
        if name == "float8_e4m3fn":  # no -inf in E4M3FN: the typed -inf is NaN there
            assert math.isnan(rx[0]) and math.isnan(num(r["value"]))
            continue
        assert num(r["value"]) == O.model_lse(rx, name, "online")
        assert decimal_is_correct(r["reference_decimal"], O.lse_exact(rx[1:]))


def test_online_plus_inf_is_nan_and_flagged(smooth_json):
    # Deliberately unguarded (as in kernels): m = inf, exp(inf − inf) = NaN.  The exact LSE is
    # +inf (scipy's convention), so the row is flagged nan.
    doc = smooth_json("lse", "inf", "1", "--dtype", "float32", "--method", "online,shifted")
    rows = {r["method"]: r for r in doc["rows"]}
    assert math.isnan(num(rows["online"]["value"])) and rows["online"]["nan"] is True
    assert num(rows["shifted"]["value"]) == math.inf and rows["shifted"]["nan"] is False


def test_acc_float32_lifts_the_float16_stall(smooth_json):
    # 5000 zeros: shifted Σ of ones.  Strict float16 sum stalls at 2048 (2048 + 1 is a tie that
    # goes to the even 2048); with a float32 accumulator it is 5000, log in float32, rounded.
    zeros = ["0"] * 5000
    base = smooth_json("lse", *zeros, "--dtype", "float16,float64", "--method", "shifted,online",
                       "--sum", "sequential")
    wide = smooth_json("lse", *zeros, "--dtype", "float16,float64", "--method", "shifted,online",
                       "--acc", "float32", "--sum", "sequential")
    with mpmath.workdps(O.DPS):
        stalled = O.round_to(mpmath.log(2048), "float16")  # 7.625
        good = O.round_to(O.round_to(mpmath.log(5000), "float32"), "float16")
    assert (stalled, good) == (7.625, 8.515625)
    for r in base["rows"]:
        if r["dtype"] == "float16":
            assert (r["sumexp"], r["value"], r["acc_dtype"]) == (2048.0, stalled, "float16")
    for r in wide["rows"]:
        if r["dtype"] == "float16":
            assert (r["sumexp"], r["value"], r["acc_dtype"]) == (5000.0, good, "float32")
        else:  # float32 is not wider than float64: the row keeps its own dtype
            assert r["acc_dtype"] == "float64"
            assert r["value"] == O.round_to(O.lse_exact([0] * 5000), "float64")
    assert wide["settings"]["acc"] == "float32" and base["settings"]["acc"] is None


def test_acc_softmax_divides_in_the_wide_dtype(smooth_json):
    # (0, -8 × 7): each exp(-8) = 3.35e-4 is below half float16's spacing at 1 (4.88e-4), so the
    # strict float16 Σ stays 1 and softmax_0 = 1.  With --acc float32 the float16 terms are summed
    # in float32 and divided there, then rounded once to float16 (the model, step by step).
    xs = ["0"] + ["-8"] * 7
    plain = smooth_json("softmax", *xs, "--dtype", "float16", "--method", "shifted",
                        "--sum", "sequential")
    wide = smooth_json("softmax", *xs, "--dtype", "float16", "--method", "shifted,log1p,online",
                       "--acc", "float32", "--sum", "sequential")
    M16, M32 = O.Model("float16"), O.Model("float32")
    t = [M16.exp(M16.sub(O.round_to(x, "float16"), 0.0)) for x in xs]
    assert plain["rows"][0]["sumexp"] == M16.seqsum(t) == 1.0
    assert plain["rows"][0]["value"][0] == 1.0
    s32 = M32.seqsum(t)
    want = [O.round_to(M32.div(e, s32), "float16") for e in t]
    assert want[0] != 1.0
    rows = {r["method"]: r for r in wide["rows"]}
    assert rows["shifted"]["value"] == want and rows["shifted"]["acc_dtype"] == "float32"
    assert rows["shifted"]["sumexp"] == s32
    # log1p divides by 1 + s, s summed in float32 without the max term; online's d likewise
    s_tail = M32.seqsum(t[1:])
    assert rows["log1p"]["value"] == [O.round_to(M32.div(e, M32.add(1.0, s_tail)), "float16")
                                      for e in t]
    assert rows["online"]["value"] == want
    assert rows["shifted"]["bits"] < plain["rows"][0]["bits"]


def test_bad_acc_and_method_are_usage_errors(smooth):
    r = smooth("lse", "1", "--acc", "float128")
    assert r.exit_code == 2 and "--acc" in r.stderr and "float128" in r.stderr
    r = smooth("lse", "1", "--method", "exp-lse")  # a softmax-only form
    assert r.exit_code == 2 and "exp-lse" in r.stderr


def test_acc_result_rounds_once_even_from_float64():
    """--acc float64 on a bfloat16 row: the float64 result is rounded to bfloat16 once.  By hand:
    1 + 2^-8 + 2^-40 lies just above the midpoint of 1 and 1 + 2^-7, so it rounds up; through
    float32 (ml_dtypes' cast) it would first become exactly the midpoint and then tie to 1."""
    import numpy as np

    from smoothcli.core.accumulation import Accumulation

    v = np.float64(1 + 2.0 ** -8 + 2.0 ** -40)
    bf16 = O.np_dtype("bfloat16")
    assert O.round_to(float(v), "bfloat16") == 1.0078125
    assert float(Accumulation("sequential", "float64").finish(v, bf16)) == 1.0078125
    arr = np.array([v, -v, np.inf], dtype=np.float64)
    out = Accumulation("sequential", "float64").finish(arr, bf16)
    assert [float(x) for x in out] == [1.0078125, -1.0078125, math.inf]
