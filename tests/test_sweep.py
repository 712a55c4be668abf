"""``smooth sweep``: every point of every series against independent computations.

At each c of the sweep the inputs are the exact x + c (or c·x) rounded once to the dtype
(tests/oracle.round_to: nearest-even by walking numpy.nextafter, not the tool's divmod rounding).
Values come from tests/oracle.simulate (the evaluation model, one numpy scalar operation at a
time), references from tests/oracle.lse_exact / softmax_exact (the textbook formulas at 400 digits,
no shift, no log1p, no caching), Herbie's bits from the IEEE bit patterns (below), flags from
tests/oracle.expected_flags.  The exact boundaries are checked by rounding on both sides of them.
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


def grid(a: str, b: str, steps: int) -> list[Fraction]:
    A, B = Fraction(a), Fraction(b)
    return [A + (B - A) * j / (steps - 1) for j in range(steps)]



def check_lse_series(row: dict, xs: list[str], cs: list[Fraction], kind: str = "shift") -> None:
    dt = NP[row["dtype"]]
    assert len(row["value"]) == len(cs) == len(row["ulp_errors"]) == len(row["status"])
    for j, c in enumerate(cs):
        assert row["c"][j] == float(c)
        ins = [oracle.round_to(Fraction(x) + c if kind == "shift" else Fraction(x) * c, dt)
               for x in xs]
        ref = oracle.lse_exact(ins)
        value, _ = oracle.simulate(ins, dt, row["method"])
        assert close(row["value"][j], value, rel=0), (row["dtype"], row["method"], c)
        assert close(row["reference"][j], oracle.nearest_float(ref), rel=0)
        want = oracle.expected_errors(value, ref, dt)["ulp_error"]
        assert close(row["ulp_errors"][j], want, rel=1e-9), (c, row["ulp_errors"][j], want)
        assert close(row["bits_errors"][j], oracle.herbie_bits(value, ref, dt), rel=1e-12)
        fl = oracle.expected_flags(ins, dt, row["method"])
        assert row["overflow_at"][j] is fl["overflow"], c
        assert row["underflow_at"][j] is fl["underflow"], c
        assert row["nan_at"][j] is fl["nan"], c
        names = [k for k in ("overflow", "underflow", "nan") if fl[k]]
        assert row["status"][j] == ("+".join(names) or "ok")
    # the row's summary is the worst over the sweep
    assert row["overflow"] is any(row["overflow_at"])
    assert row["underflow"] is any(row["underflow_at"])
    ulps = [num(u) for u in row["ulp_errors"]]
    assert close(row["ulp_error"], math.nan if any(map(math.isnan, ulps)) else max(ulps), rel=0)
    assert close(row["bits"], max(row["bits_errors"]), rel=0)


def test_lse_shift_series_all_dtypes(smooth_json):
    """The issue's example at unit steps around float16's breaking points: every number."""
    doc = smooth_json("sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "33")
    assert doc["command"] == "sweep" and doc["schema_version"] == 2
    assert doc["sweep"] == {"kind": "shift", "formula": "x + c", "from": -20.0, "to": 12.0,
                            "steps": 33}
    cs = grid("-20", "12", 33)
    assert doc["c"] == [float(c) for c in cs]
    rows = rows_by(doc)
    assert set(rows) == {(d, m) for d in NP for m in ("naive", "shifted")}
    for row in rows.values():
        check_lse_series(row, ["0", "1"], cs)
    # float16 naive: log(0) = -inf below, inf above; the shifted form stays correctly rounded
    naive = rows["float16", "naive"]
    assert naive["value"][0] == "-inf" and naive["value"][-1] == "inf"
    assert max(rows["float16", "shifted"]["bits_errors"]) <= 1.0


def test_lse_non_dyadic_grid_rounds_exact_sum_once(smooth_json):
    """x = 0.1 and c = -1.3 + j·0.26: x + c is rounded once from the exact decimal sum.

    Near c = −1.31 LSE(0.1 + c, 1 + c) is close to 0 (cancellation in m + log Σ): float64 needs
    the reference's extra precision there, which lse_exact's 400 digits give independently."""
    doc = smooth_json("sweep", "lse", "0.1", "1", "--shift", "-1.3:1.3", "--steps", "11")
    cs = grid("-1.3", "1.3", 11)
    for row in doc["rows"]:
        check_lse_series(row, ["0.1", "1"], cs)
    # the choice documented in README: round(x + c), not round(round(x) + round(c))
    j = 1  # c = -1.04: 0.1 - 1.04 = -0.94 exactly
    x16 = oracle.round_to(Fraction("-0.94"), np.float16)
    assert rows_by(doc)["float16", "naive"]["reference"][j] == oracle.nearest_float(
        oracle.lse_exact([x16, oracle.round_to(Fraction(1) + cs[j], np.float16)]))


def test_lse_scale_series(smooth_json):
    doc = smooth_json("sweep", "lse", "1", "-2", "3", "--scale", "0:40", "--steps", "9",
                      "--dtype", "float16,float32")
    cs = grid("0", "40", 9)
    assert doc["sweep"]["kind"] == "scale" and doc["sweep"]["formula"] == "c·x"
    for row in doc["rows"]:
        check_lse_series(row, ["1", "-2", "3"], cs, kind="scale")
    # c = 0: LSE(0, 0, 0) = log 3 for every method
    for row in doc["rows"]:
        assert row["status"][0] == "ok"


def test_softmax_series_worst_element(smooth_json):
    doc = smooth_json("sweep", "softmax", "0", "1", "2", "--shift", "-16:16", "--steps", "9",
                      "--dtype", "float16", "--sum", "sequential")
    cs = grid("-16", "16", 9)
    for row in doc["rows"]:
        for j, c in enumerate(cs):
            ins = [oracle.round_to(Fraction(x) + c, np.float16) for x in ("0", "1", "2")]
            ref = oracle.softmax_exact(ins)
            vals, _ = oracle.simulate(ins, np.float16, row["method"], kind="softmax")
            assert [num(v) for v in row["value"][j]] == pytest.approx(vals, rel=0, nan_ok=True)
            errs = [oracle.expected_errors(v, r, np.float16)["ulp_error"]
                    for v, r in zip(vals, ref)]
            worst = math.nan if any(map(math.isnan, errs)) else max(errs)
            assert close(row["ulp_errors"][j], worst, rel=1e-9), (row["method"], c)
            bits = max(oracle.herbie_bits(v, r, np.float16) for v, r in zip(vals, ref))
            assert close(row["bits_errors"][j], bits, rel=1e-12)
            fl = oracle.expected_flags(ins, np.float16, row["method"], kind="softmax")
            assert (row["overflow_at"][j], row["underflow_at"][j], row["nan_at"][j]) == (
                fl["overflow"], fl["underflow"], fl["nan"]), (row["method"], c)
    rows = rows_by(doc)
    # exp(2 + 16) overflows float16: inf/inf = NaN, which costs the full 16 bits
    naive = rows["float16", "naive"]
    assert naive["nan_at"][-1] and naive["bits_errors"][-1] == 16
    assert not any(rows["float16", "shifted"]["nan_at"])


def test_exp_series_matches_exp_range(smooth_json):
    """exp(c) in float16 against mpmath: finite up to 11.0859375, nonzero from -17.328125."""
    doc = smooth_json("sweep", "exp", "0", "--shift", "-18:12", "--steps", "121",
                      "--dtype", "float16")
    (row,) = doc["rows"]
    assert row["method"] == "numpy"
    tiny = float(np.finfo(np.float16).smallest_normal)
    for j, c in enumerate(grid("-18", "12", 121)):
        y = oracle.round_to(c, np.float16)
        with np.errstate(all="ignore"):
            v = float(np.exp(np.float16(y)))
        with mpmath.workdps(oracle.DPS):
            ref = mpmath.exp(mpmath.mpf(y))
        assert num(row["value"][j][0]) == v
        assert close(row["ulp_errors"][j], oracle.expected_errors(v, ref, np.float16)["ulp_error"])
        assert close(row["bits_errors"][j], oracle.herbie_bits(v, ref, np.float16), rel=1e-12)
        assert row["overflow_at"][j] is math.isinf(v)
        assert row["underflow_at"][j] is (v < tiny)
    # the exact thresholds, independently: the last finite and the first nonzero
    assert oracle.exp_rounded(11.0859375, np.float16) < math.inf
    assert oracle.exp_rounded(11.09375, np.float16) == math.inf
    (b_under, b_over) = row["boundaries"]
    # between -9.75 and -9.5 the result becomes normal; between 11 and 11.25 it overflows
    assert b_over["before"] == "ok" and b_over["after"] == "overflow"
    # c* is the midpoint of 11.0859375 and 11.09375; the tie rounds to the even 11.09375 (odd
    # significand 1419 vs even 1420, in units of 2**-7), which overflows
    assert Fraction(b_over["c_text"]) == (Fraction("11.0859375") + Fraction("11.09375")) / 2
    assert b_over["status_at"] == "overflow"
    assert b_under["before"] == "underflow" and b_under["after"] == "ok"


def test_float16_naive_boundaries_exact(smooth_json):
    """The issue's example: where naive float16 LSE(c, 1 + c) breaks, located exactly."""
    doc = smooth_json("sweep", "lse", "0", "1", "--shift", "-800:800", "--dtype", "float16",
                      "--method", "naive", expect_exit=0)
    (row,) = doc["rows"]
    under, over = row["boundaries"]
    assert (under["before"], under["after"]) == ("underflow", "ok")
    assert (over["before"], over["after"]) == ("ok", "overflow")
    for b in (under, over):
        c = Fraction(b["c_text"])  # an exact decimal: x_i + c is a float16 midpoint
        eps = Fraction(1, 2 ** 30)
        below = [oracle.round_to(x + c - eps, np.float16) for x in (0, 1)]
        above = [oracle.round_to(x + c + eps, np.float16) for x in (0, 1)]
        at = [oracle.round_to(x + c, np.float16) for x in (0, 1)]
        assert below != above

        def status(ins):
            fl = oracle.expected_flags(ins, np.float16, "naive")
            return "+".join(k for k in ("overflow", "underflow", "nan") if fl[k]) or "ok"

        assert status(below) == b["before"] and status(above) == b["after"]
        assert status(at) == b["status_at"]
    # the numbers README states
    assert under["c_text"] == "-11.01953125" and under["status_at"] == "ok"
    assert over["c_text"] == "9.77734375" and over["status_at"] == "overflow"
    # and the result is -inf (every exp flushed to 0) below c = -18.3359375: round(1 + c) must
    # reach -17.34375, the first float16 whose exp rounds to 0
    assert oracle.exp_rounded(-17.328125, np.float16) > 0
    assert oracle.exp_rounded(-17.34375, np.float16) == 0


def test_boundaries_float32_float64_bracketed(smooth_json):
    doc = smooth_json("sweep", "lse", "0", "1", "--shift", "-800:800", "--method", "naive",
                      "--dtype", "float32,float64")
    for row in doc["rows"]:
        dt = NP[row["dtype"]]
        assert len(row["boundaries"]) == 2
        for b in row["boundaries"]:
            assert b["c_below"] < b["c"] <= b["c_above"]
            c = Fraction(b["c_text"])
            eps = Fraction(1, 2 ** 80)
            st = []
            for cc in (c - eps, c + eps):
                ins = [oracle.round_to(x + cc, dt) for x in (0, 1)]
                fl = oracle.expected_flags(ins, dt, "naive")
                st.append("+".join(k for k in ("overflow", "underflow", "nan") if fl[k])
                          or "ok")
            assert st == [b["before"], b["after"]], (row["dtype"], b)


def test_sigmoid_series(smooth_json):
    doc = smooth_json("sweep", "sigmoid", "0", "--shift", "-14:14", "--steps", "15",
                      "--dtype", "float16")
    rows = rows_by(doc)
    assert set(rows) == {("float16", "naive"), ("float16", "stable")}
    for j, c in enumerate(grid("-14", "14", 15)):
        y = np.float16(oracle.round_to(c, np.float16))
        with np.errstate(all="ignore"):
            naive = float(np.float16(1) / (np.float16(1) + np.exp(-y)))
        with mpmath.workdps(oracle.DPS):
            ref = 1 / (1 + mpmath.exp(-mpmath.mpf(float(y))))
        row = rows["float16", "naive"]
        assert num(row["value"][j][0]) == naive
        want = oracle.expected_errors(naive, ref, np.float16)["ulp_error"]
        assert close(row["ulp_errors"][j], want)
        # e^(−y) overflows float16 for y < −11.0859375: 1/(1 + inf) = 0
        assert row["overflow_at"][j] is (float(y) < -11.0859375)
        stable = rows["float16", "stable"]
        assert close(stable["ulp_errors"][j], oracle.expected_errors(
            num(stable["value"][j][0]), ref, np.float16)["ulp_error"])
        assert num(stable["ulp_errors"][j]) <= 2


def test_check_and_max_ulp(smooth):
    assert smooth("sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "5", "--dtype",
                  "float16", "--check").exit_code == 1
    ok = smooth("sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "5", "--dtype",
                "float16", "--method", "shifted", "--check")
    assert ok.exit_code == 0
    strict = smooth("sweep", "lse", "0", "1", "--shift", "-20:12", "--steps", "5", "--dtype",
                    "float16", "--method", "shifted", "--check", "--max-ulp", "0.01")
    assert strict.exit_code == 1 and "--max-ulp 0.01" in strict.stdout


@pytest.mark.parametrize("args, needle", [
    (["lse", "0", "1"], "exactly one of --shift"),
    (["lse", "0", "1", "--shift", "1:2", "--scale", "1:2"], "exactly one of --shift"),
    (["lse", "0", "1", "--shift", "5:5"], "lower to higher"),
    (["lse", "0", "1", "--shift", "-800"], "A:B"),
    (["lse", "0", "1", "--shift", "a:1"], "'a'"),
    (["lse", "0", "1", "--shift", "-inf:1"], "finite"),
    (["lse", "0", "1", "--shift", "0:1", "--steps", "1"], "--steps"),
    (["lse", "0", "1", "--shift", "0:1", "--unit", "furlong"], "--unit"),
    (["cosh", "0", "--shift", "0:1"], "unknown function 'cosh'"),
    (["lse", "--shift", "0:1"], "no values"),
    (["lse", "0", "x", "--shift", "0:1"], "not a number: 'x'"),
    (["lse", "0", "--shift", "0:1", "--width", "3"], "--width"),
])
def test_bad_input_one_line_exit_2(smooth, args, needle):
    r = smooth("sweep", *args)
    assert r.exit_code == 2, (r.exit_code, r.stdout)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smooth: error:") and needle in lines[0], \
        r.stderr
    assert r.exception is None


def test_sweep_points_are_the_rows_smooth_lse_reports(smooth_json):
    """Every point of a sweep is a row of the one engine: its value, reference, errors and
    flags are those ``smooth lse`` reports for the same numbers typed (float64 inputs whose
    differences vary from point to point, and the overflow at 70000 in float16)."""
    doc = smooth_json("sweep", "lse", "0", "1", "--shift", "69990:70010", "--steps", "5",
                      "--dtype", "float16,float64", "--method", "shifted")
    cs = doc["c"]
    for s in doc["rows"]:
        for j, c in enumerate(cs):
            typed = smooth_json("lse", repr(0 + c), repr(1 + c), "--dtype", s["dtype"],
                                "--method", "shifted")["rows"][0]
            assert s["value"][j] == typed["value"] and s["reference"][j] == typed["reference"]
            assert s["overflow_at"][j] == typed["overflow"]
            assert s["ulp_errors"][j] == typed["ulp_error"]
    f16 = next(s for s in doc["rows"] if s["dtype"] == "float16")
    assert all(f16["overflow_at"])  # 69990 and above round to 70000 > 65504: inf
