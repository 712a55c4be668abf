"""Batches (2-D or long input): per-row results, summaries, JSON, --check, and the real data.

Expected numbers come from mpmath and exact rounding written here; the buffered kernels and the
lean flags are pinned to the issue-2 implementations they replace at scale (bit for bit).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
from typer.testing import CliRunner

from smoothcli.engine import batch as B
from smoothcli.core.accumulation import Accumulation
from smoothcli.commands._common import Settings
from smoothcli.core.formats import FORMATS
from smoothcli.reference.fast import Workspace
from smoothcli.engine.inputs import load
from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS
from smoothcli.measure.errors import flags as measure_flags

DATA = Path(__file__).parent / "data" / "bhh"
F16, F32, F64 = FORMATS["float16"], FORMATS["float32"], FORMATS["float64"]
BATCH_KEYS = {"dtype", "method", "value", "reference", "abs_error", "rel_error", "ulp_error",
              "overflow", "underflow", "nan", "rows_evaluated", "overflow_rows",
              "underflow_rows", "nan_rows", "median_ulp_error", "worst_row", "per_row"}


def run(*args, input=None):
    return CliRunner().invoke(app(), [str(a) for a in args], input=input)


def app():
    from smoothcli.cli import app as typer_app

    return typer_app


def run_json(*args, expect=(0, 1)):
    r = run(*args, "--json")
    assert r.exit_code in expect, (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))


def exact_lse(row) -> mpmath.mpf:
    with mpmath.workprec(300):
        xs = [mpmath.mpf(float(v)) for v in row if v != -np.inf]
        m = max(xs)
        return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in xs))


def ulp(v, fmt):
    if v == 0:
        return mpmath.ldexp(1, fmt.emin - fmt.precision + 1)
    man, exp = v.man_exp
    e = int(exp) + abs(int(man)).bit_length() - 1
    return mpmath.ldexp(1, max(e, fmt.emin) - fmt.precision + 1)


def to_half(v: float) -> float:
    """float16 rounding written here (exact RNE on Fractions)."""
    q = Fraction(v)
    if q == 0:
        return 0.0
    a = abs(q)
    e = a.numerator.bit_length() - a.denominator.bit_length()
    if Fraction(2) ** e > a:
        e -= 1
    scale = Fraction(2) ** (10 - max(e, -14))
    m = a * scale
    fl = m.numerator // m.denominator
    if m - fl > Fraction(1, 2) or (m - fl == Fraction(1, 2) and fl % 2):
        fl += 1
    r = Fraction(fl) / scale
    out = float("inf") if r > 65504 else float(r)
    return out if q > 0 else -out


# --- the buffered kernels and flags are the issue-2 ones ---------------------------------------

def adversarial_rows(dtype):
    rng = np.random.default_rng(7)
    rows = [rng.normal(0, 4, 300), rng.normal(0, 40, 300), rng.uniform(-800, -700, 50),
            np.array([710.0, 12.0, -3.0]), np.array([1.0, np.inf, 2.0]),
            np.array([1.0, np.nan]), np.array([-np.inf, -np.inf]),
            np.array([-np.inf, 3.0, 4.0]), np.array([-1e5, 1e5]), np.ones(5000)]
    with np.errstate(all="ignore"):
        return [r.astype(dtype) for r in rows]


@pytest.mark.parametrize("order", ["sequential", "pairwise"])
@pytest.mark.parametrize("fmt", [F16, F32, F64], ids=lambda f: f.name)
def test_kernels_and_flags_match_logsumexp_and_measure(fmt, order):
    acc = Accumulation(order)
    ws = Workspace()
    for x in adversarial_rows(fmt.np):
        x64 = x.astype(np.float64)
        facts = B.input_facts(x, x64)
        for kind, table in (("lse", LSE_METHODS), ("softmax", SOFTMAX_METHODS)):
            for method in ("naive", "shifted"):
                want = table[method](x, acc)
                value, terms, s = B.evaluate(kind, method, x, acc, ws, "t", x64.max())
                assert np.array_equal(np.asarray(value), np.asarray(want.value), equal_nan=True)
                assert np.array_equal(terms, want.terms, equal_nan=True)
                assert np.array_equal(s, want.sumexp, equal_nan=True)
                for ref_nan, ref_finite in ((False, True), (True, False), (False, False)):
                    fl = measure_flags(x, want.terms, want.sumexp, want.value, ref_nan,
                                       ref_finite, fmt)
                    got = B.flags(facts, terms, s, value, ref_nan, ref_finite, fmt, ws)
                    assert got == (fl.overflow, fl.underflow, fl.nan, fl.flushed)


# --- the real data: Blanchard, Higham & Higham's MNIST pre-softmax vectors ---------------------

@pytest.fixture(scope="module")
def bhh():
    x = np.load(DATA / "presoftmax.npy")
    labels = np.load(DATA / "labels.npy")
    doc = run_json("lse", "--file", DATA / "presoftmax.npy", "--dtype", "float16")
    return x, labels, doc


def test_bhh_naive_float16_overflows_exactly_where_exp_does(bhh):
    """The naive float16 LSE overflows on a row iff, exactly, Σ exp(x_i) of the float16-rounded
    logits reaches 65520 (the midpoint above float16's max 65504, which rounds to inf)."""
    x, _, doc = bhh
    naive = next(r for r in doc["rows"] if r["method"] == "naive")
    shifted = next(r for r in doc["rows"] if r["method"] == "shifted")
    term_rows, sum_rows = set(), set()
    with mpmath.workprec(80):
        for i, row in enumerate(x):
            terms = [mpmath.exp(to_half(float(v))) for v in row]
            if max(terms) >= 65520:
                term_rows.add(i)
            if mpmath.fsum(terms) >= 65520:
                sum_rows.add(i)
    flagged = {i for i, f in enumerate(naive["per_row"]["overflow"]) if f}
    assert flagged == sum_rows
    assert len(flagged) == naive["overflow_rows"] == 475  # the paper's count
    assert len(term_rows) == 471 and term_rows < sum_rows  # 4 rows overflow only in the sum
    assert shifted["overflow_rows"] == 0 and not shifted["overflow"]
    assert all(v == "inf" for i, v in enumerate(naive["value"]) if i in flagged)


def test_bhh_argmax_matches_labels(bhh):
    x, labels, _ = bhh
    doc = run_json("softmax", "--file", DATA / "presoftmax.npy", "--dtype", "float32",
                   "--method", "shifted")
    argmax = np.array(doc["argmax"]["float32"])
    assert (argmax == np.argmax(x, axis=1)).all()
    assert round(float((argmax == labels).mean()), 4) == 0.9892  # the paper's 98.92 %


def test_bhh_per_row_lse_errors_are_exact_to_a_hundredth_ulp(bhh):
    x, _, doc = bhh
    for r in doc["rows"]:
        for i in range(0, 2500, 97):
            ref = exact_lse(x[i].astype(np.float16).astype(np.float64))
            v = r["value"][i]
            if v == "inf":
                assert r["per_row"]["ulp_error"][i] == "inf"
                continue
            with mpmath.workprec(300):
                want = abs(mpmath.mpf(v) - ref) / ulp(ref, F16)
            assert abs(want - r["per_row"]["ulp_error"][i]) <= 0.01


# --- summaries, JSON, --check, --rows ----------------------------------------------------------

@pytest.fixture(scope="module")
def small_batch(tmp_path_factory):
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((7, 60)) * 3).astype(np.float32)
    x[2] *= 8  # float16 overflow territory
    x[5, :] = x[5, 0]  # a row of ties
    x[6, 3] = -np.inf
    path = tmp_path_factory.mktemp("b") / "batch.npy"
    np.save(path, x)
    return x, path


def test_batch_json_summary_is_consistent_with_per_row_arrays(small_batch):
    x, path = small_batch
    doc = run_json("lse", "--file", path)
    assert doc["batch"] is True and doc["input"]["shape"] == [7, 60]
    assert len(doc["rows"]) == 6
    for r in doc["rows"]:
        assert BATCH_KEYS <= set(r)
        pr = r["per_row"]
        assert r["rows_evaluated"] == 7 and len(pr["ulp_error"]) == 7
        for flag in ("overflow", "underflow", "nan"):
            assert r[f"{flag}_rows"] == sum(pr[flag]) and r[flag] == any(pr[flag])
        ulps = [float(u) for u, nan in zip(pr["ulp_error"], pr["nan"]) if not nan]
        finite = [u for u in ulps if not np.isnan(u)]
        assert float(r["ulp_error"]) == max(finite)
        assert r["worst_row"] == [float(u) for u in pr["ulp_error"]].index(max(finite))
        assert float(r["median_ulp_error"]) == float(np.median(finite))
    f16 = next(r for r in doc["rows"] if r["dtype"] == "float16" and r["method"] == "naive")
    assert f16["per_row"]["overflow"][2] is True


def test_batch_per_row_values_against_mpmath(small_batch):
    x, path = small_batch
    doc = run_json("lse", "--file", path)
    for r in doc["rows"]:
        fmt = FORMATS[r["dtype"]]
        for i in range(7):
            with np.errstate(all="ignore"):
                row = x[i].astype(fmt.np).astype(np.float64)
            ref = exact_lse(row)
            assert r["reference"][i] == float(ref)
            v = r["value"][i]
            if isinstance(v, str):
                continue
            with mpmath.workprec(300):
                want = abs(mpmath.mpf(v) - ref) / ulp(ref, fmt)
            assert abs(want - r["per_row"]["ulp_error"][i]) <= 0.01


def test_batch_softmax_worst_element_against_mpmath(small_batch):
    x, path = small_batch
    doc = run_json("softmax", "--file", path, "--dtype", "float32,float64")
    for r in doc["rows"]:
        fmt = FORMATS[r["dtype"]]
        method = SOFTMAX_METHODS[r["method"]]
        for i in range(7):
            row = x[i].astype(fmt.np)
            with np.errstate(all="ignore"):
                values = method(row, Accumulation()).value
            lse = exact_lse(row.astype(np.float64))
            worst = 0
            with mpmath.workprec(300):
                for xi, v in zip(row, values):
                    y = mpmath.exp(mpmath.mpf(float(xi)) - lse)
                    worst = max(worst, abs(mpmath.mpf(float(v)) - y) / ulp(y, fmt))
            got = r["per_row"]["ulp_error"][i]
            assert abs(float(worst) - float(got)) <= 0.01, (r["dtype"], r["method"], i)
            assert r["per_row"]["output_sum"][i] == float(sum(Fraction(float(v))
                                                              for v in values))


def test_check_exit_status_on_batches(small_batch):
    _, path = small_batch
    assert run("lse", "--file", path, "--dtype", "float16", "--check").exit_code == 1
    ok = run("lse", "--file", path, "--method", "shifted", "--dtype", "float32", "--check")
    assert ok.exit_code == 0, ok.stdout
    strict = run_json("lse", "--file", path, "--method", "shifted", "--dtype", "float32",
                      "--check", "--max-ulp", "0", expect=(1,))
    assert strict["problems"] and "ULP > --max-ulp" in strict["problems"][0]


def test_rows_option_prints_every_row(small_batch):
    _, path = small_batch
    r = run("lse", "--file", path, "--rows", "--dtype", "float16,float32")
    assert r.exit_code == 0
    per_row = r.stdout.split("row by row", 1)[1].splitlines()
    body = [line for line in per_row if line.strip()[:1].isdigit()]
    assert len(body) == 7 * 2 * 2  # rows × dtypes × methods
    assert "row by row" not in run("lse", "--file", path).stdout


def test_threads_give_identical_results(small_batch):
    x, _ = small_batch
    from smoothcli.engine.inputs import Batch

    b = Batch("t", "npy", "float32", x.shape, -1, x)
    st = Settings([F16, F32, F64], ["naive", "shifted"], Accumulation())
    one = B.run("softmax", b, st, threads=1)
    two = B.run("softmax", b, st, threads=2)
    from smoothcli._format.json import JsonFormat

    assert JsonFormat().render(one, []) == JsonFormat().render(two, [])


def test_cancellation_row_uses_mpmath_in_a_batch(tmp_path):
    a, b = -np.log(2) - 1e-10, -np.log(2) + 1e-10
    x = np.array([[a, b], [1.0, 2.0]] * 2)
    np.save(tmp_path / "c.npy", x)
    doc = run_json("lse", "--file", tmp_path / "c.npy", "--dtype", "float64", "--rows")
    kinds = doc["reference_method"]["float64"]
    assert kinds == {"fast-longdouble (mpmath LSE)": 2, "fast-longdouble": 2}
    ref = exact_lse(x[0])
    assert doc["rows"][0]["reference"][0] == float(ref)


def test_long_single_row_is_a_batch_with_its_row_shown(tmp_path):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(1500) * 5).astype(np.float32)
    np.save(tmp_path / "row.npy", x)
    r = run("lse", "--file", tmp_path / "row.npy", "--dtype", "float32")
    assert r.exit_code == 0 and "row by row" in r.stdout
    doc = run_json("lse", "--file", tmp_path / "row.npy", "--dtype", "float32")
    assert doc["input"]["shape"] == [1500]
    assert doc["rows"][0]["reference"] == [float(exact_lse(x.astype(np.float64)))] * 1


def test_bounds_and_underflow_batches(tmp_path):
    x = np.array([[-800.0, -900.0, -850.0], [1.0, 2.0, 3.0], [-100.0, -100.0, -100.0]])
    np.save(tmp_path / "u.npy", x)
    under = run_json("underflow", "--file", tmp_path / "u.npy", "--dtype", "float64")
    naive = next(r for r in under["rows"] if r["method"] == "naive")
    assert naive["per_row"]["underflow"] == [True, False, False]
    assert naive["per_row"]["flushed_terms"] == [3, 0, 0]
    bnd = run_json("bounds", "--file", tmp_path / "u.npy", "--dtype", "float64",
                   "--method", "shifted")
    row = bnd["rows"][0]
    assert row["outside_rows"] == 0 and row["per_row"]["inside"] == [True, True, True]
    # the tie row: LSE = -100 + log 3 exactly at the upper bound max + log n
    with mpmath.workprec(200):
        assert row["reference"][2] == float(-100 + mpmath.log(3))


@pytest.mark.parametrize("args,message", [
    (["bounds", "--k", "2"], "--k is not supported for batches"),
    (["softmax", "--temperature", "2"], "--temperature is not supported for batches"),
])
def test_per_element_options_refused_for_batches(small_batch, args, message):
    _, path = small_batch
    r = run(*args, "--file", path)
    assert r.exit_code == 2 and message in r.stderr and len(r.stderr.splitlines()) == 1


def test_no_progress_bar_when_not_a_terminal(small_batch):
    _, path = small_batch
    r = run("softmax", "--file", path)
    assert r.exit_code == 0 and r.stderr == ""


def test_single_long_row_split_over_threads_is_identical(tmp_path):
    """One long row evaluates its dtype groups on two threads: same document as one thread."""
    from smoothcli._format.json import JsonFormat
    from smoothcli.engine.inputs import Batch

    rng = np.random.default_rng(8)
    x = (rng.standard_normal((1, B.THREAD_MIN_N)) * 4).astype(np.float32)
    b = Batch("t", "npy", "float32", x.shape, -1, x)
    st = Settings([F16, F32, F64], ["naive", "shifted"], Accumulation())
    one = JsonFormat().render(B.run("softmax", b, st, threads=1), [])
    split = JsonFormat().render(B.run("softmax", b, st), [])
    assert one == split
