"""``smooth softmax``: per-element values, references and errors, hardmax, flags.

References: tests/oracle.softmax_exact, exp(x_i) / Σ exp(x_j) evaluated directly with mpmath at
400 digits (the tool computes exp(x_i − LSE) in a Ziv loop).
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, loads_strict, num, rows_by

NP = {"float16": np.float16, "float32": np.float32, "float64": np.float64}
ROW_KEYS = {"dtype", "method", "value", "reference", "abs_error", "rel_error", "ulp_error",
            "overflow", "underflow", "nan", "ulp_errors", "output_sum", "sum_error"}



def close_error(got, want: float, kind: str, ref, dt) -> bool:
    """Errors agree to 1e-9 relative, or to what a reference of >= 240 correct bits can know:
    the tool's Ziv loop stops at 256 bits, so softmax(0, 157, 157)[1] = 1/2 - 1.6e-69 has an
    error (|1/2 - ref|) known to ~1e-9 relative only; the oracle's 400 digits know more."""
    if close(got, want):
        return True
    slack = abs(oracle.exact(ref)) * Fraction(1, 2**240)
    tol = {"abs_error": slack, "rel_error": Fraction(1, 2**240),
           "ulp_error": slack / oracle.ulp(ref, dt)}[kind]
    return abs(Fraction(num(got)) - Fraction(want)) <= tol


def check_row(row: dict, xs: list[float], order: str = "sequential") -> None:
    """Every number of one softmax row against the oracles (xs rounded to the row's dtype)."""
    dt = NP[row["dtype"]]
    refs = oracle.softmax_exact(xs)
    values, sumexp = oracle.simulate(xs, dt, row["method"], kind="softmax", order=order)
    assert [num(v) for v in row["value"]] == pytest.approx(values, rel=0, nan_ok=True)
    assert close(row["sumexp"], sumexp, rel=0)
    assert [num(v) for v in row["reference"]] == [oracle.nearest_float(r) for r in refs]
    for text, r in zip(row["reference_decimal"], refs):
        assert oracle.decimal_is_correct(text, r), (text, r)
    errs = [oracle.expected_errors(v, r, dt) for v, r in zip(values, refs)]
    for k in ("abs_error", "rel_error", "ulp_error"):
        per = [e[k] for e in errs]
        assert all(close_error(g, w, k, r, dt) for g, w, r in zip(row[k + "s"], per, refs)), (
            k, row[k + "s"], per)
        mine = [num(g) for g in row[k + "s"]]  # checked against the oracle just above
        worst = math.nan if any(math.isnan(e) for e in mine) else max(mine)
        assert close(row[k], worst, rel=0), (k, row[k], worst)
    if all(math.isfinite(v) for v in values):
        exact_sum = sum(Fraction(v) for v in values)
        assert row["output_sum"] == float(exact_sum)  # Python rounds a Fraction correctly
        assert row["sum_error"] == float(abs(exact_sum - 1))


def test_seed_vector_hardmax_and_values(smooth_json):
    doc = smooth_json("softmax", "1.1", "3.4", "2.5", expect_exit=0)
    assert ROW_KEYS <= set(doc["rows"][0])
    hard = {h["dtype"]: h for h in doc["hardmax"]}
    for dt, npdt in NP.items():
        xs = [oracle.round_to(Fraction(t), npdt) for t in ("1.1", "3.4", "2.5")]
        assert hard[dt]["argmax"] == 1
        assert hard[dt]["hardmax"] == [0, 1, 0]
        assert hard[dt]["max"] == xs[1]
        for method in ("naive", "shifted"):
            row = rows_by(doc)[dt, method]
            check_row(row, xs)
            assert not (row["overflow"] or row["underflow"] or row["nan"])
            # a correctly rounded softmax would be within 0.5 ULP; exp, sum and division
            # each round, so allow a few (Blanchard, Higham & Higham 2021, §5).
            assert row["ulp_error"] < 4
    typed = oracle.softmax_exact(["1.1", "3.4", "2.5"])
    assert doc["reference_typed"] == [oracle.nearest_float(r) for r in typed]


def test_float64_outputs_that_do_not_sum_to_one_are_not_shown_as_exact(smooth_json):
    # The float64 softmax outputs of the seed's vector sum to 1 - 1.39e-17 exactly; the sum
    # rounded to float64 is 1.0, but |Σ out − 1| must be the exact distance, not 0.
    doc = smooth_json("softmax", "1.1", "3.4", "2.5", "--dtype", "float64",
                      "--method", "naive")
    (row,) = doc["rows"]
    exact_sum = sum(Fraction(v) for v in row["value"])
    assert exact_sum != 1 and float(exact_sum) == 1.0
    assert row["output_sum"] == 1.0
    assert row["sum_error"] == float(abs(exact_sum - 1)) > 0


def test_ties_take_the_first_index(smooth_json):
    doc = smooth_json("softmax", "2", "2", "1", "--dtype", "float64")
    (hard,) = doc["hardmax"]
    assert hard["argmax"] == 0 and hard["hardmax"] == [1, 0, 0] and hard["ties"] == 2
    for row in doc["rows"]:
        check_row(row, [2.0, 2.0, 1.0])
        assert row["value"][0] == row["value"][1]
    assert any("tied" in n for n in doc["notes"])


def test_rounding_to_float16_can_create_a_tie(smooth_json):
    # 1.0001 and 1.0002 are both within half a float16 spacing (2**-11) of 1: in float16 the
    # max is tied and the argmax is 0; in float64 it is 1.
    doc = smooth_json("softmax", "1.0001", "1.0002", "--dtype", "float16,float64")
    hard = {h["dtype"]: h for h in doc["hardmax"]}
    assert oracle.round_to(Fraction("1.0001"), np.float16) == oracle.round_to(
        Fraction("1.0002"), np.float16) == 1.0
    assert (hard["float16"]["argmax"], hard["float16"]["ties"]) == (0, 2)
    assert (hard["float64"]["argmax"], hard["float64"]["ties"]) == (1, 1)
    assert hard["float64"]["hardmax"] == [0, 1]


def test_naive_overflows_to_nan_shifted_is_fine(smooth_json):
    # exp(1000) overflows float64 (ln max ≈ 709.78): inf / inf = nan.
    doc = smooth_json("softmax", "1000", "0", "--dtype", "float64", "--check", expect_exit=1)
    naive, shifted = rows_by(doc)["float64", "naive"], rows_by(doc)["float64", "shifted"]
    assert naive["overflow"] is True and naive["nan"] is True
    assert naive["value"][0] == "nan"
    assert shifted["overflow"] is False and shifted["nan"] is False
    # exp(-1000) ≈ 5.1e-435 is below float64's smallest subnormal: flushed to 0.
    assert shifted["value"] == [1.0, 0.0] and shifted["flushed_terms"] == 1
    assert shifted["underflow"] is False  # the shifted sum is 1
    check_row(naive, [1000.0, 0.0])
    check_row(shifted, [1000.0, 0.0])
    # one status per row, judged from the result: the overflow that made the NaN
    assert [p.split(" — ")[0] for p in doc["problems"]] == ["float64 naive: overflow"]
    assert "inf/inf = NaN" in doc["problems"][0]


@pytest.mark.parametrize("dtype, big", [("float16", "12"), ("float32", "89"),
                                        ("float64", "710")])
def test_naive_overflow_threshold_per_dtype(smooth_json, dtype, big):
    # Just above ln(max) of each dtype (11.09, 88.72, 709.78) exp overflows.
    doc = smooth_json("softmax", big, "0", "--dtype", dtype)
    assert rows_by(doc)[dtype, "naive"]["overflow"] is True
    assert rows_by(doc)[dtype, "shifted"]["overflow"] is False
    for row in doc["rows"]:
        check_row(row, [float(big), 0.0])


def test_all_very_negative_underflows_naively(smooth_json):
    doc = smooth_json("softmax", "-800", "-801", "--dtype", "float64", "--check",
                      expect_exit=1)
    naive, shifted = rows_by(doc)["float64", "naive"], rows_by(doc)["float64", "shifted"]
    # exp(-800) underflows to 0: 0/0 = nan for both elements.
    assert naive["underflow"] is True and naive["nan"] is True
    assert naive["value"] == ["nan", "nan"]
    assert not (shifted["underflow"] or shifted["nan"] or shifted["overflow"])
    check_row(shifted, [-800.0, -801.0])
    # 1 / (1 + e**-1) and e**-1 / (1 + e**-1).
    with mpmath.workdps(60):
        want = [1 / (1 + mpmath.exp(-1)), mpmath.exp(-1) / (1 + mpmath.exp(-1))]
    assert shifted["reference"] == [float(w) for w in want]


def test_minus_inf_element_gets_exactly_zero(smooth_json):
    doc = smooth_json("softmax", "0", "-inf", "1", expect_exit=0)
    for row in doc["rows"]:
        assert row["value"][1] == 0.0
        assert row["reference"][1] == 0.0 and row["ulp_errors"][1] == 0.0
        assert not (row["overflow"] or row["underflow"] or row["nan"])
        xs = [0.0, -math.inf, 1.0]
        values, _ = oracle.simulate(xs, NP[row["dtype"]], row["method"], kind="softmax")
        assert row["value"] == values


def test_nan_input_gives_nan_elements_but_no_false_flags(smooth_json):
    # the exact value does not exist: status undefined (which --check fails), flags all false
    doc = smooth_json("softmax", "nan", "1", "--check", expect_exit=1)
    for row in doc["rows"]:
        assert row["status"] == "undefined"
        assert row["value"] == ["nan", "nan"]
        assert row["reference"] == ["nan", "nan"]
        assert not (row["overflow"] or row["underflow"] or row["nan"])
    assert all(h["argmax"] is None and h["hardmax"] is None for h in doc["hardmax"])


def test_float16_input_overflow_is_flagged(smooth_json):
    # 70000 rounds to +inf in float16: exp(inf)/Σ = inf/inf = nan, although the softmax of the
    # typed values is finite ([1, exp(-70000)]).
    doc = smooth_json("softmax", "70000", "0", "--dtype", "float16", "--check",
                      expect_exit=1)
    for row in doc["rows"]:
        assert row["overflow"] is True
    assert doc["reference_typed"] == [1.0, 0.0]


def test_check_with_max_ulp(smooth):
    # float16 naive on the seed's vector: worst error 0.549 ULP (checked in the row test);
    # a 0.5 ULP gate fails, a 2 ULP gate passes.
    r = smooth("softmax", "1.1", "3.4", "2.5", "--dtype", "float16", "--method", "naive",
               "--check", "--max-ulp", "0.5", "--json")
    assert r.exit_code == 1
    (row,) = r.json["rows"]
    assert row["ulp_error"] > 0.5
    assert r.json["problems"] == [
        f"float16 naive: inaccurate — {row['ulp_error']:.3g} ULP > --max-ulp 0.5"]
    r = smooth("softmax", "1.1", "3.4", "2.5", "--dtype", "float16", "--method", "naive",
               "--check", "--max-ulp", "2")
    assert r.exit_code == 0


# --------------------------------------------------------------------------------------------
# property: random vectors, every row against the oracles, flags by the definitions

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

decimal_token = st.one_of(
    st.integers(-120, 120).map(str),
    st.builds(lambda i, f: f"{i}.{f}", st.integers(-800, 800), st.integers(0, 999)),
)


@settings(max_examples=30, deadline=None, derandomize=True, database=None)
@given(st.lists(decimal_token, min_size=1, max_size=5))
def test_random_vectors_match_the_oracles(xs):
    from typer.testing import CliRunner

    from smoothcli.cli import app

    r = CliRunner().invoke(app, ["softmax", *xs, "--json"])
    assert r.exit_code == 0, r.output
    doc = loads_strict(r.stdout)
    for row in doc["rows"]:
        dt = NP[row["dtype"]]
        rounded = [num(i["rounded"][row["dtype"]]) for i in doc["inputs"]]
        check_row(row, rounded, order=doc["settings"]["sum"])  # the default: pairwise
        want = oracle.expected_flags(rounded, dt, row["method"], kind="softmax")
        assert {k: row[k] for k in want} == want, (xs, row)
    for h in doc["hardmax"]:
        rounded = [num(i["rounded"][h["dtype"]]) for i in doc["inputs"]]
        top = max(rounded)
        assert h["argmax"] == rounded.index(top) and h["max"] == top
        assert h["hardmax"] == [1 if i == h["argmax"] else 0 for i in range(len(rounded))]
