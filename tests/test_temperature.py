"""``smooth softmax --temperature T``: softmax(x/T) against hardmax(x) as T → 0.

Oracles: tests/oracle.softmax_exact (exp(x_i)/Σ exp(x_j) at 400 digits, no shift) on the exact
quotients x/T of the dtype's x and T; distances to the one-hot computed here with Fractions.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, num

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
SEED = ("1.1", "3.4", "2.5")


def t_rows(doc):
    """The softmax(x/T) rows (rows of the one model with a temperature), each merged with its
    distances to hardmax(x) from the document's ``temperature_rows``."""
    facts = {(f["dtype"], f["method"], f["temperature"]): f for f in doc["temperature_rows"]}
    return {(r["dtype"], r["method"], r["temperature"]):
            {**r, **facts[r["dtype"], r["method"], r["temperature"]]}
            for r in doc["rows"] if r["temperature"] is not None}


def test_seed_max_argmax_hardmax(smooth_json):
    """The seed: max([1.1, 3.4, 2.5]) = 3.4, argmax = 2 counting from 1 — index 1 0-based —
    and hardmax = [0, 1, 0]; every temperature row carries that hardmax."""
    doc = smooth_json("softmax", *SEED, "--temperature", "0.5", expect_exit=0)
    hard = {h["dtype"]: h for h in doc["hardmax"]}
    for dt, npdt in NP.items():
        assert hard[dt]["max"] == oracle.round_to(Fraction("3.4"), npdt)
        assert hard[dt]["argmax"] == 1  # the seed's argmax 2, counted from 1
        assert hard[dt]["hardmax"] == [0, 1, 0]
    rows = t_rows(doc)
    assert len(rows) == 3 * 2
    for r in rows.values():
        assert r["hardmax"] == [0, 1, 0] and r["ties"] == 1 and r["limit"] == [0, 1, 0]
    # without --temperature the softmax rows are unchanged: no row has a temperature
    plain = smooth_json("softmax", *SEED, expect_exit=0)
    assert all(r["temperature"] is None for r in plain["rows"])
    assert "temperature_rows" not in plain


@pytest.mark.parametrize("dt", ["float32", "float64"])
def test_softmax_of_x_over_t_tends_to_hardmax(smooth_json, dt):
    npdt = NP[dt]
    temps = ["2", "1", "0.5", "0.1", "0.02"]
    args = [a for t in temps for a in ("--temperature", t)]
    doc = smooth_json("softmax", *SEED, "--dtype", dt, "--method", "shifted", *args,
                      expect_exit=0)
    rows = t_rows(doc)
    xs = [oracle.round_to(Fraction(v), npdt) for v in SEED]
    previous = math.inf
    for t in temps:
        td = oracle.round_to(Fraction(t), npdt)
        r = rows[dt, "shifted", td]
        exact = oracle.softmax_exact([Fraction(x) / Fraction(td) for x in xs])
        assert r["reference"] == [oracle.nearest_float(e) for e in exact]
        with mpmath.workdps(oracle.DPS):
            gap = 1 - exact[1]  # p_argmax = exact[1]
        # exact distances to the one-hot [0, 1, 0]: max abs 1 − p_1, L1 2(1 − p_1)
        assert r["distance_max_abs_reference"] == pytest.approx(float(gap), rel=1e-14)
        assert r["distance_l1_reference"] == pytest.approx(float(2 * gap), rel=1e-14)
        # computed distances, from the computed values, exactly
        d = [abs(Fraction(num(v)) - h) for v, h in zip(r["value"], [0, 1, 0])]
        assert r["distance_max_abs"] == float(max(d))
        assert r["distance_l1"] == float(sum(d))
        # the evaluation model: x/T rounded to the dtype, then the shifted softmax step by step
        scaled = [oracle.round_to(Fraction(x) / Fraction(td), npdt) for x in xs]
        values, _ = oracle.simulate(scaled, npdt, "shifted", kind="softmax")
        assert [num(v) for v in r["value"]] == values
        # errors against the exact softmax(x/T): the rounding of x/T is part of them
        for v, e, u in zip(values, exact, r["ulp_errors"]):
            assert close(u, oracle.expected_errors(v, e, npdt)["ulp_error"])
        assert float(gap) < previous  # softmax(x/T) → hardmax(x) as T → 0
        previous = float(gap)
    assert previous < 1e-15


def test_naive_breaks_first_as_t_shrinks(smooth_json):
    """float16: exp(v) rounds to inf iff exp(v) ≥ 65504 + 16 (the midpoint to 2^16), i.e.
    v ≥ log(65520); naive softmax(x/T) overflows exactly when round(3.4)/T (rounded) passes it,
    the shifted form never does."""
    with mpmath.workdps(50):
        limit = mpmath.log(65520)
    x = oracle.round_to(Fraction("3.4"), np.float16)
    temps = ["0.4", "0.31", "0.305", "0.3", "0.2", "0.1"]
    args = [a for t in temps for a in ("--temperature", t)]
    doc = smooth_json("softmax", *SEED, "--dtype", "float16", *args)
    rows = t_rows(doc)
    seen = {False: 0, True: 0}
    for t in temps:
        td = oracle.round_to(Fraction(t), np.float16)
        scaled = oracle.round_to(Fraction(x) / Fraction(td), np.float16)
        overflows = scaled >= limit
        seen[overflows] += 1
        assert rows["float16", "naive", td]["overflow"] == overflows, t
        assert rows["float16", "naive", td]["scaled_max"] == scaled
        shifted = rows["float16", "shifted", td]
        assert not (shifted["overflow"] or shifted["nan"] or shifted["underflow"])
    assert seen[True] and seen[False]  # both sides of the threshold were probed
    note = next(n for n in doc["notes"] if n.startswith("float16: naive"))
    assert f"T < {x / 11.0859375:.4g}" in note  # 11.0859375: the largest float16 below limit


def test_ties_hardmax_first_index_softmax_splits(smooth_json):
    """hardmax([2, 2, 1]) = [1, 0, 0] (first index), but softmax(x/T) → [½, ½, 0]: the distance
    to the one-hot tends to ½ (max abs) and 1 (L1), not 0."""
    doc = smooth_json("softmax", "2", "2", "1", "--dtype", "float64", "--temperature", "0.05",
                      "--temperature", "0.001", expect_exit=0)
    rows = t_rows(doc)
    for t in (0.05, 0.001):
        r = rows["float64", "shifted", t]
        assert r["hardmax"] == [1, 0, 0] and r["limit"] == [0.5, 0.5, 0] and r["ties"] == 2
        exact = oracle.softmax_exact([Fraction(2) / Fraction(t), Fraction(2) / Fraction(t),
                                      Fraction(1) / Fraction(t)])
        with mpmath.workdps(oracle.DPS):
            want_max = max(1 - exact[0], exact[1], exact[2])
            want_l1 = (1 - exact[0]) + exact[1] + exact[2]
        assert r["distance_max_abs_reference"] == pytest.approx(float(want_max), rel=1e-15)
        assert r["distance_l1_reference"] == pytest.approx(float(want_l1), rel=1e-15)
        assert r["distance_max_abs_reference"] >= 0.5  # ½ + e^(−1/T)/2 as a float
    assert any("tends to 1/2 on each tied entry" in n for n in doc["notes"])


@pytest.mark.parametrize("bad", ["0", "-1", "inf", "nan", "abc"])
def test_bad_temperature_exit_2(smooth, bad):
    r = smooth("softmax", "1", "2", f"--temperature={bad}")
    assert r.exit_code == 2 and r.exception is None
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "temperature" in lines[0] and bad in lines[0]


def test_temperature_that_vanishes_in_the_dtype_is_refused(smooth):
    r = smooth("softmax", "1", "2", "--temperature", "1e-10", "--dtype", "float16")
    assert r.exit_code == 2 and "float16" in r.stderr and len(r.stderr.strip().splitlines()) == 1
