"""``smooth lse``: values, references, errors and flags against independent computations.

References: tests/oracle.lse_exact, log(Σ exp x_i) evaluated directly with mpmath at 400 digits
(the tool shifts and uses log1p in a Ziv loop).  Computed values: tests/oracle.simulate, the
documented evaluation model re-implemented one numpy scalar operation at a time.
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
            "overflow", "underflow", "nan"}


def check_row(row: dict, xs: list[float], order: str = "sequential") -> None:
    """Every number of one lse row against the oracles (xs: the inputs rounded to row's dtype)."""
    dt = NP[row["dtype"]]
    ref = oracle.lse_exact(xs)
    value, sumexp = oracle.simulate(xs, dt, row["method"], order=order)
    assert close(row["value"], value, rel=0), (row, value)
    assert close(row["sumexp"], sumexp, rel=0), (row, sumexp)
    assert close(row["reference"], oracle.nearest_float(ref), rel=0)
    assert oracle.decimal_is_correct(row["reference_decimal"], ref)
    for k, v in oracle.expected_errors(num(row["value"]), ref, dt).items():
        assert close(row[k], v), (k, row[k], v)



def test_seed_example_710_12_float16(smooth_json):
    doc = smooth_json("lse", "710", "12", "--dtype", "float16")
    assert ROW_KEYS <= set(doc["rows"][0])
    rows = rows_by(doc)
    naive, shifted = rows["float16", "naive"], rows["float16", "shifted"]
    # exp(710) and exp(12) ≈ 162755 are both beyond float16's max 65504.
    assert naive["value"] == "inf" and naive["overflow"] is True
    assert naive["underflow"] is False and naive["nan"] is False
    assert naive["ulp_error"] == "inf" and naive["sumexp"] == "inf"
    assert shifted["value"] == 710.0
    assert not (shifted["overflow"] or shifted["underflow"] or shifted["nan"])
    assert shifted["flushed_terms"] == 1  # exp(12 - 710) = exp(-698) rounds to 0 in float16
    # LSE - 710 = log1p(exp(-698)) = exp(-698)(1 - exp(-698)/2 + ...); float16 spacing at 710
    # (binade [512, 1024)) is 2**(9 - 10) = 0.5.
    ref = oracle.lse_exact([710, 12])
    with mpmath.workdps(oracle.DPS):
        tail = mpmath.exp(-698)
        # 400 digits of 710.000... leave ~96 digits of the tail: enough to see it is exp(-698).
        assert abs((ref - 710) / tail - 1) < mpmath.mpf(10) ** -90
        assert math.isclose(shifted["abs_error"], float(tail), rel_tol=1e-12)
        assert math.isclose(shifted["ulp_error"], float(tail / mpmath.mpf("0.5")), rel_tol=1e-12)
    assert 0 < shifted["ulp_error"] < 1e-300
    assert shifted["reference"] == 710.0 and shifted["reference_decimal"] in ("710", "710.0")
    for row in doc["rows"]:
        check_row(row, [710.0, 12.0])
    assert doc["reference_typed"] is None and shifted["reference_typed"] is None
    assert [p.split(" — ")[0] for p in doc["problems"]] == ["float16 naive: overflow"]


def test_710_12_every_dtype(smooth_json):
    doc = smooth_json("lse", "710", "12")
    rows = rows_by(doc)
    assert len(rows) == 6
    # exp(710) overflows all three: the float64 limit is 709.78 (ln of the max double).
    for dt in NP:
        assert rows[dt, "naive"]["overflow"] is True
        assert rows[dt, "shifted"]["value"] == 710.0
        assert rows[dt, "shifted"]["overflow"] is False
    # exp(12 - 710) = 7.3e-304 is above float64's smallest subnormal: not flushed there.
    assert rows["float64", "shifted"]["flushed_terms"] == 0
    assert rows["float32", "shifted"]["flushed_terms"] == 1
    for row in doc["rows"]:
        check_row(row, [710.0, 12.0])


def test_negative_800_900_underflows_naively_not_shifted(smooth_json):
    doc = smooth_json("lse", "-800", "-900", expect_exit=0)
    for dt in NP:
        naive = rows_by(doc)[dt, "naive"]
        shifted = rows_by(doc)[dt, "shifted"]
        # exp(-800) ≈ 3.7e-348 is below every dtype's smallest subnormal (float64: 4.9e-324).
        assert naive["underflow"] is True and naive["overflow"] is False
        assert naive["value"] == "-inf" and naive["sumexp"] == 0.0
        assert naive["flushed_terms"] == 2
        assert shifted["value"] == -800.0
        assert not (shifted["underflow"] or shifted["overflow"] or shifted["nan"])
        check_row(naive, [-800.0, -900.0])
        check_row(shifted, [-800.0, -900.0])
    # float64 spacing at 800 is 2**(9 - 52); the error is log1p(exp(-100)) ≈ 3.72e-44.
    with mpmath.workdps(50):
        want = float(mpmath.log1p(mpmath.exp(-100)) / mpmath.ldexp(1, 9 - 52))
    assert math.isclose(rows_by(doc)["float64", "shifted"]["ulp_error"], want, rel_tol=1e-12)


def test_check_fails_on_naive_underflow(smooth):
    r = smooth("lse", "-800", "-900", "--check", "--json")
    assert r.exit_code == 1
    assert {p.split(" — ")[0] for p in r.json["problems"]} == {f"{dt} naive: underflow"
                                                             for dt in NP}
    r = smooth("lse", "-800", "-900", "--check", "--method", "shifted")
    assert r.exit_code == 0


def test_sum_overflows_although_every_term_is_finite(smooth_json):
    # exp(11) ≈ 59874 is finite in float16 (max 65504) but exp(11) + exp(11) is not.
    doc = smooth_json("lse", "11", "11", "--dtype", "float16")
    naive, shifted = rows_by(doc)["float16", "naive"], rows_by(doc)["float16", "shifted"]
    assert oracle.exp_rounded(11.0, np.float16) < 65504 < 2 * oracle.exp_rounded(11.0,
                                                                               np.float16)
    assert naive["overflow"] is True and naive["value"] == "inf"
    assert shifted["overflow"] is False
    # 11 + log 2 = 11.693...: float16 spacing in [8, 16) is 2**-7.
    assert shifted["value"] == oracle.round_to(oracle.exact(oracle.lse_exact([11, 11])),
                                               np.float16) == 11 + 89 * 2.0**-7
    check_row(naive, [11.0, 11.0])
    check_row(shifted, [11.0, 11.0])


def test_subnormal_sum_is_flagged_as_underflow(smooth_json):
    # exp(-16) ≈ 1.125e-7 is below 2**-14 ≈ 6.10e-5: the naive float16 sum is the subnormal
    # 2 * 2**-24 (spacing 2**-24 there), and log(2**-23) = -15.9453125 in float16 is 0.0546875
    # from -16: 3.5 ULP of float16 at the reference 16 (binade [16, 32), spacing 2**-6).
    doc = smooth_json("lse", "-16", "--dtype", "float16")
    naive, shifted = rows_by(doc)["float16", "naive"], rows_by(doc)["float16", "shifted"]
    assert oracle.exp_rounded(-16.0, np.float16) == 2 * 2.0**-24
    assert naive["underflow"] is True and naive["sumexp"] == 2 * 2.0**-24
    with mpmath.workdps(50):
        assert naive["value"] == oracle.round_to(oracle.exact(mpmath.log(2 * 2.0**-24)),
                                                 np.float16) == -15.9453125
    assert math.isclose(naive["ulp_error"], 0.0546875 / 2**-6, rel_tol=1e-12)
    assert shifted["underflow"] is False and shifted["value"] == -16.0
    assert shifted["ulp_error"] == 0.0 and shifted["abs_error"] == 0.0
    check_row(naive, [-16.0])
    check_row(shifted, [-16.0])


def test_underflow_flag_is_ieee_underflow_even_when_the_log_hides_it(smooth_json):
    # exp(-10) ≈ 4.54e-5 < 2**-14 (as -10 < -14 ln 2 ≈ -9.70): the sum is subnormal and
    # inexact, which is IEEE 754 underflow (§7.5), so the row is flagged, but its relative
    # error (≤ 2**-25 / 4.54e-5 ≈ 6.6e-4) is an absolute error of the log below half a
    # float16 spacing at 10 (2**-8): the naive result is still exactly -10.
    doc = smooth_json("lse", "-10", "--dtype", "float16")
    naive = rows_by(doc)["float16", "naive"]
    assert -10 < -14 * math.log(2)
    assert naive["underflow"] is True
    assert naive["value"] == -10.0 and naive["ulp_error"] == 0.0
    check_row(naive, [-10.0])


@pytest.mark.parametrize("xs", [
    ["1", "2", "3"], ["0.5", "-0.25", "0.125", "100"], ["-3", "-3", "-3"], ["88", "89"],
    ["1e-3", "2e-3"], ["-0.6931471805599453", "-0.6931471805599453"], ["0"], ["-1000", "1000"],
])
def test_rows_match_oracle(smooth_json, xs):
    doc = smooth_json("lse", *xs, "--sum", "sequential")
    for row in doc["rows"]:
        rounded = [inp["rounded"][row["dtype"]] for inp in doc["inputs"]]
        assert rounded == [oracle.round_to(Fraction(x), NP[row["dtype"]]) for x in xs]
        check_row(row, [num(v) for v in rounded])


def test_cancellation_near_zero_reference(smooth_json):
    # LSE(-log 2, -log 2) = 0 exactly for the real numbers; for the float64 input it is
    # log(2) - 0.6931471805599453 ≈ 2.3e-17, a severe cancellation the reference must resolve.
    doc = smooth_json("lse", "-0.6931471805599453", "-0.6931471805599453", "--dtype", "float64")
    for row in doc["rows"]:
        check_row(row, [-0.6931471805599453] * 2)
        ref = oracle.lse_exact([-0.6931471805599453] * 2)
        assert 0 < float(ref) < 1e-16
        assert oracle.decimal_is_correct(row["reference_decimal"], ref)


@pytest.mark.parametrize("xs, want", [
    (["-inf", "-inf"], -math.inf),
    (["-inf"], -math.inf),
    (["nan", "1"], math.nan),
    (["inf", "nan"], math.nan),
    (["inf", "1"], math.inf),
    (["inf", "-inf"], math.inf),
    (["inf", "inf"], math.inf),
    (["-inf", "0"], 0.0),
    (["-inf", "-800", "-900"], None),  # finite: checked against the oracle below
])
def test_special_values_follow_scipy_logsumexp(smooth_json, xs, want):
    doc = smooth_json("lse", *xs)
    ref = oracle.lse_exact([float(x) for x in xs])
    if want is not None:
        assert (math.isnan(want) and mpmath.isnan(ref)) or ref == want
    for row in doc["rows"]:
        if row["method"] == "shifted" or want is not None and not math.isfinite(want):
            assert close(row["value"], float(ref), rel=0)
            assert not (row["overflow"] or row["nan"])
        check_row(row, [float(x) for x in xs])
    if want is not None and not math.isfinite(want):
        # NaN in, NaN out is right, but the exact value does not exist: status undefined
        assert all(" undefined — " in p for p in doc["problems"]), doc["problems"]


def test_special_values_agree_with_scipy():
    sp = pytest.importorskip("scipy.special")
    for xs in (["-inf", "-inf"], ["nan", "1"], ["inf", "1"], ["inf", "-inf"], ["-inf", "0"]):
        v = [float(x) for x in xs]
        with np.errstate(all="ignore"):
            want = float(sp.logsumexp(v))
        got = float(oracle.lse_exact(v))
        assert got == want or (math.isnan(got) and math.isnan(want)), xs


def test_strict_float16_sum_stalls_at_2048_pairwise_does_not(smooth_json):
    # 3000 copies of 0: every term is exp(0) = 1.  Left to right in float16 the partial sum
    # reaches 2048, where the spacing is 2, and 2048 + 1 is a tie that goes back to the even
    # 2048: the sum stalls, LSE = log(2048) = 11 log 2 = 7.6246 -> 7.625 in float16 (spacing
    # 2**-8 in [4, 8)).  np.sum adds pairwise in float32 and rounds 3000 once (exact in
    # float16: spacing 2 there): log(3000) = 8.00637 -> 8.0078125 (spacing 2**-7 in [8, 16)).
    xs = ["0"] * 3000
    seq = rows_by(smooth_json("lse", *xs, "--dtype", "float16", "--sum", "sequential"))
    pw = rows_by(smooth_json("lse", *xs, "--dtype", "float16", "--sum", "pairwise"))
    s = Fraction(0)
    for _ in range(3000):
        s = Fraction(oracle.round_to(s + 1, np.float16))
    assert s == 2048
    with mpmath.workdps(50):
        log2048 = oracle.round_to(oracle.exact(mpmath.log(2048)), np.float16)
        log3000 = oracle.round_to(oracle.exact(mpmath.log(3000)), np.float16)
    assert (log2048, log3000) == (7.625, 8.0078125)
    for method in ("naive", "shifted"):
        assert seq["float16", method]["sumexp"] == 2048.0
        assert seq["float16", method]["value"] == log2048
        assert pw["float16", method]["sumexp"] == 3000.0
        assert pw["float16", method]["value"] == log3000
        assert "sequential" in seq["float16", method]["accumulation"]
        assert "pairwise" in pw["float16", method]["accumulation"]
    with mpmath.workdps(50):
        exact_lse = mpmath.log(3000)
        ulp = mpmath.ldexp(1, 3 - 10)
        assert math.isclose(seq["float16", "naive"]["ulp_error"],
                            float(abs(exact_lse - mpmath.mpf(7.625)) / ulp), rel_tol=1e-12)
        assert math.isclose(pw["float16", "naive"]["ulp_error"],
                            float(abs(exact_lse - mpmath.mpf(8.0078125)) / ulp), rel_tol=1e-12)


def test_3000_ones_shifted_stalls_but_naive_overshoots(smooth_json):
    # 3000 copies of 1: the shifted terms are exp(0) = 1 and stall at 2048 (LSE 1 + 7.625);
    # the naive terms are exp(1) -> 2.71875 in float16, which round UP by 4 per step in
    # [4096, 8192) and then stall at 8192 (2.71875 < half the spacing 8): log 8192 -> 9.0078125.
    xs = ["1"] * 3000
    seq = rows_by(smooth_json("lse", *xs, "--dtype", "float16", "--sum", "sequential"))
    pw = rows_by(smooth_json("lse", *xs, "--dtype", "float16", "--sum", "pairwise"))
    e16 = oracle.exp_rounded(1.0, np.float16)
    assert e16 == 2.71875 == float(np.exp(np.float16(1)))  # numpy's float16 exp agrees here
    for method, order, rows in (("naive", "sequential", seq), ("shifted", "sequential", seq),
                                ("naive", "pairwise", pw), ("shifted", "pairwise", pw)):
        value, sumexp = oracle.simulate([1.0] * 3000, np.float16, method, order=order)
        assert rows["float16", method]["value"] == value
        assert rows["float16", method]["sumexp"] == sumexp
    assert seq["float16", "shifted"]["value"] == 8.625
    assert seq["float16", "naive"]["sumexp"] == 8192.0
    # exact: 1 + log 3000 = 9.00637; the stalled shifted sum is off by 0.38 = 48.8 spacings.
    assert seq["float16", "shifted"]["ulp_error"] > 48
    assert pw["float16", "shifted"]["ulp_error"] < 0.5


def test_reference_typed_when_rounding_changed_inputs(smooth_json):
    doc = smooth_json("lse", "0.1", "0.2", "--dtype", "float16,float64")
    typed = oracle.lse_exact(["0.1", "0.2"])  # exact decimals 1/10 and 1/5
    assert doc["reference_typed"] == oracle.nearest_float(typed)
    for row in doc["rows"]:
        assert row["reference_typed"] == oracle.nearest_float(typed)
        xs = [oracle.round_to(Fraction(t), NP[row["dtype"]]) for t in ("0.1", "0.2")]
        check_row(row, xs)
    f16 = rows_by(doc)["float16", "shifted"]
    assert f16["reference"] != f16["reference_typed"]  # float16's 0.1 is 0.0999755859375


def test_reference_typed_only_for_dtypes_whose_inputs_changed(smooth_json):
    # 2049 is exact in float64 but rounds to 2048 in float16 (spacing 2, tie to even).
    doc = smooth_json("lse", "0.5", "2049", "--dtype", "float16,float64")
    rows = rows_by(doc)
    assert doc["inputs"][1]["rounded"] == {"float16": 2048.0, "float64": 2049.0}
    typed = oracle.nearest_float(oracle.lse_exact([0.5, 2049]))
    assert rows["float16", "naive"]["reference_typed"] == typed
    assert rows["float64", "naive"]["reference_typed"] is None
    assert rows["float64", "naive"]["reference"] == typed


def test_input_that_overflows_the_dtype_is_flagged(smooth_json):
    # 1e5 > 65520, so it rounds to +inf in float16: the LSE of the typed (finite) value is
    # finite, the float16 result is inf: an intermediate became inf (the overflow).
    doc = smooth_json("lse", "1e5", "1", "--dtype", "float16")
    assert doc["inputs"][0]["rounded"]["float16"] == "inf"
    for row in doc["rows"]:
        assert row["value"] == "inf"
        assert row["overflow"] is True
    assert doc["reference_typed"] == oracle.nearest_float(oracle.lse_exact([100000, 1]))


def test_method_selection_and_order(smooth_json):
    doc = smooth_json("lse", "1", "2", "--method", "shifted", "--dtype", "float32")
    assert [(r["dtype"], r["method"]) for r in doc["rows"]] == [("float32", "shifted")]
    doc = smooth_json("lse", "1", "2", "--method", "shifted,naive", "--method", "naive",
                      "--dtype", "float64", "--sum", "sequential")
    assert [r["method"] for r in doc["rows"]] == ["shifted", "naive"]
    settings = doc["settings"]  # JSON only grows: the keys the first version had
    assert (settings["dtypes"], settings["methods"], settings["sum"]) == (
        ["float64"], ["shifted", "naive"], "sequential")


# --------------------------------------------------------------------------------------------
# property: random vectors, every row against the oracles, flags by the definitions

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

decimal_token = st.one_of(
    st.integers(-120, 120).map(str),
    st.builds(lambda i, f: f"{i}.{f}", st.integers(-800, 800), st.integers(0, 999)),
    st.builds(lambda m, e: f"{m}e{e}", st.integers(-99, 99), st.integers(-5, 2)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(decimal_token, min_size=1, max_size=6))
def test_random_vectors_match_the_oracles(xs):
    from typer.testing import CliRunner

    from smoothcli.cli import app

    r = CliRunner().invoke(app, ["lse", *xs, "--json", "--sum", "sequential"])
    assert r.exit_code == 0, r.output
    doc = loads_strict(r.stdout)
    for row in doc["rows"]:
        dt = NP[row["dtype"]]
        rounded = [num(i["rounded"][row["dtype"]]) for i in doc["inputs"]]
        assert rounded == [oracle.round_to(Fraction(x), dt) for x in xs]
        if not all(math.isfinite(v) for v in rounded):
            continue  # an input overflowed the dtype: covered by its own test
        check_row(row, rounded)
        want = oracle.expected_flags(rounded, dt, row["method"])
        assert {k: row[k] for k in want} == want, (xs, row)
        if row["method"] == "shifted":
            assert not row["overflow"] and not row["underflow"]  # Σ exp(x - m) >= 1


def test_astronomically_small_tail_does_not_exhaust_memory(smooth_json):
    # LSE(0, 2**65) = 2**65 + log1p(exp(-2**65)): an exact sum would need 5e19 bits.  The tail
    # is far below any float64 spacing, so the value is 2**65 with a ULP error of 0.0.
    big = "3.6893488147419103e+19"
    assert float(big) == 2.0**65
    doc = smooth_json("lse", "0", big, "--dtype", "float64")
    for row in doc["rows"]:
        assert row["reference"] == 2.0**65
        assert row["reference_decimal"] == "3.6893488147419103e+19"
    shifted = rows_by(doc)["float64", "shifted"]
    assert shifted["value"] == 2.0**65 and shifted["ulp_error"] == 0.0
    # and the other way round: LSE(0, -2**65) = log1p(exp(-2**65)) ≈ 6.188e-16022638320587141526
    doc = smooth_json("lse", "0", "-" + big, "--dtype", "float64", "--method", "shifted")
    (row,) = doc["rows"]
    with mpmath.workdps(30):
        tail = mpmath.exp(-mpmath.mpf(2) ** 65)
        mant, exp10 = mpmath.nstr(tail, 17, min_fixed=1, max_fixed=0).split("e")
    want_mant, want_exp = row["reference_decimal"].split("e")
    assert int(want_exp) == int(exp10) and abs(float(want_mant) - float(mant)) < 1e-15
    assert row["value"] == 0.0 and row["abs_error"] == 0.0  # |0 - 6e-1.6e19| underflows
