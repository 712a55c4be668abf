"""Batches (2-D or long input): per-row results, summaries, JSON, --check, and the real data.

Expected numbers come from mpmath and exact rounding written here.  A batch of R rows gives R
rows per (dtype, method) in JSON, with the same keys as a typed vector, and one summary entry
per (dtype, method).
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import mpmath
import numpy as np
import pytest
from typer.testing import CliRunner

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.formats import FORMATS
from smoothcli.engine import evaluate as E
from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS
from smoothcli.reference.fast import Workspace

DATA = Path(__file__).parent / "data" / "bhh"
F16, F32, F64 = FORMATS["float16"], FORMATS["float32"], FORMATS["float64"]
SUMMARY_KEYS = {"dtype", "method", "rows", "overflow_rows", "underflow_rows", "nan_rows",
                "median_ulp_error", "worst_row", "ulp_error"}


def series(doc, dtype, method):
    """The rows of one (dtype, method), in row order."""
    out = [r for r in doc["rows"] if r["dtype"] == dtype and r["method"] == method]
    assert [r["row"] for r in out] == list(range(len(out)))
    return out


def column(doc, dtype, method, key):
    return [r[key] for r in series(doc, dtype, method)]


def entry(doc, dtype, method):
    return next(e for e in doc["summary"] if e["dtype"] == dtype and e["method"] == method)


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


# --- one kernel: with the engine's buffers or without, bit for bit ------------------------------

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
def test_buffered_kernels_are_bit_identical(fmt, order):
    acc = Accumulation(order)
    ws = Workspace()
    for x in adversarial_rows(fmt.np):
        for table in (LSE_METHODS, SOFTMAX_METHODS):
            for method, kernel in table.items():
                want = kernel(x, acc)
                got = kernel(x, acc, ws, float(x.astype(np.float64).max()))
                assert np.array_equal(np.asarray(got.value), np.asarray(want.value),
                                      equal_nan=True)
                assert np.array_equal(got.terms, want.terms, equal_nan=True)
                assert np.array_equal(got.sumexp, want.sumexp, equal_nan=True)


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
    naive = series(doc, "float16", "naive")
    term_rows, sum_rows = set(), set()
    with mpmath.workprec(80):
        for i, row in enumerate(x):
            terms = [mpmath.exp(to_half(float(v))) for v in row]
            if max(terms) >= 65520:
                term_rows.add(i)
            if mpmath.fsum(terms) >= 65520:
                sum_rows.add(i)
    flagged = {r["row"] for r in naive if r["overflow"]}
    assert flagged == sum_rows
    assert len(flagged) == entry(doc, "float16", "naive")["overflow_rows"] == 475  # the paper
    assert len(term_rows) == 471 and term_rows < sum_rows  # 4 rows overflow only in the sum
    assert entry(doc, "float16", "shifted")["overflow_rows"] == 0
    assert all(r["value"] == "inf" for r in naive if r["row"] in flagged)


def test_bhh_argmax_matches_labels(bhh):
    x, labels, _ = bhh
    doc = run_json("softmax", "--file", DATA / "presoftmax.npy", "--dtype", "float32",
                   "--method", "shifted")
    argmax = np.array(column(doc, "float32", "shifted", "argmax"))
    assert (argmax == np.argmax(x, axis=1)).all()
    assert round(float((argmax == labels).mean()), 4) == 0.9892  # the paper's 98.92 %


def test_bhh_per_row_lse_errors_are_exact_to_a_hundredth_ulp(bhh):
    x, _, doc = bhh
    for r in doc["rows"]:
        i = r["row"]
        if i % 97:
            continue
        ref = exact_lse(x[i].astype(np.float16).astype(np.float64))
        v = r["value"]
        if v == "inf":
            assert r["ulp_error"] == "inf"
            continue
        with mpmath.workprec(300):
            want = abs(mpmath.mpf(v) - ref) / ulp(ref, F16)
        assert abs(want - r["ulp_error"]) <= 0.01


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


def test_batch_json_summary_is_consistent_with_its_rows(small_batch):
    x, path = small_batch
    doc = run_json("lse", "--file", path)
    assert doc["input"]["shape"] == [7, 60] and doc["input"]["rows"] == 7
    assert len(doc["rows"]) == 7 * 6 and len(doc["summary"]) == 6
    for e in doc["summary"]:
        assert SUMMARY_KEYS <= set(e)
        rows = series(doc, e["dtype"], e["method"])
        assert e["rows"] == 7
        for flag in ("overflow", "underflow", "nan"):
            assert e[f"{flag}_rows"] == sum(r[flag] for r in rows)
        finite = [float(r["ulp_error"]) for r in rows if not r["nan"]
                  and not np.isnan(float(r["ulp_error"]))]
        assert float(e["ulp_error"]) == max(finite)
        assert e["worst_row"] == [float(r["ulp_error"]) for r in rows].index(max(finite))
        assert float(e["median_ulp_error"]) == float(np.median(finite))
    assert series(doc, "float16", "naive")[2]["overflow"] is True


def test_batch_per_row_values_against_mpmath(small_batch):
    x, path = small_batch
    doc = run_json("lse", "--file", path)
    for r in doc["rows"]:
        fmt, i = FORMATS[r["dtype"]], r["row"]
        with np.errstate(all="ignore"):
            row = x[i].astype(fmt.np).astype(np.float64)
        ref = exact_lse(row)
        assert r["reference"] == float(ref)
        v = r["value"]
        if isinstance(v, str):
            continue
        with mpmath.workprec(300):
            want = abs(mpmath.mpf(v) - ref) / ulp(ref, fmt)
        assert abs(want - r["ulp_error"]) <= 0.01


def test_batch_softmax_worst_element_against_mpmath(small_batch):
    x, path = small_batch
    doc = run_json("softmax", "--file", path, "--dtype", "float32,float64")
    for r in doc["rows"]:
        fmt, i = FORMATS[r["dtype"]], r["row"]
        method = SOFTMAX_METHODS[r["method"]]
        row = x[i].astype(fmt.np)
        with np.errstate(all="ignore"):
            values = method(row, Accumulation()).value
        assert r["value"] == [float(v) for v in values]
        lse = exact_lse(row.astype(np.float64))
        worst = 0
        with mpmath.workprec(300):
            for xi, v in zip(row, values):
                y = mpmath.exp(mpmath.mpf(float(xi)) - lse)
                worst = max(worst, abs(mpmath.mpf(float(v)) - y) / ulp(y, fmt))
        assert abs(float(worst) - float(r["ulp_error"])) <= 0.01, (r["dtype"], r["method"], i)
        assert r["output_sum"] == float(sum(Fraction(float(v)) for v in values))


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


def _document(batch, threads):
    from smoothcli._format.json import JsonFormat
    from smoothcli.commands._common import Settings
    from smoothcli.report.family import build

    st = Settings([F16, F32, F64], ["naive", "shifted"], Accumulation())
    plan = E.Plan("softmax", st.dtypes, st.methods, st.accumulation, elements=True)
    ev = E.evaluate(plan, batch, threads=threads)
    return JsonFormat().render(build("softmax", ev, st), [])


def test_threads_give_identical_results(small_batch):
    x, _ = small_batch
    from smoothcli.engine.inputs import Batch

    b = Batch("t", "npy", "float32", x.shape, -1, x)
    assert _document(b, 1) == _document(b, 2)


def test_cancellation_row_uses_mpmath_in_a_batch(tmp_path):
    # rows longer than the exact-reference limit (64) take the fast reference; LSE ≈ 0 by
    # cancellation (log(e^a + e^b) with a, b ≈ −log 2) makes its bound insufficient: mpmath
    a, b = -np.log(2) - 1e-10, -np.log(2) + 1e-10
    pad = [-1000.0] * 98  # e^-1000: far below any ULP of the result
    x = np.array([[a, b, *pad], [1.0, 2.0, *pad]] * 2)
    np.save(tmp_path / "c.npy", x)
    doc = run_json("lse", "--file", tmp_path / "c.npy", "--dtype", "float64", "--rows")
    kinds = doc["reference_method"]["float64"]
    assert kinds == {"fast-longdouble (mpmath LSE)": 2, "fast-longdouble": 2}
    ref = exact_lse(x[0])
    assert doc["rows"][0]["reference"] == float(ref)


def test_long_single_row_is_a_batch_with_its_row_shown(tmp_path):
    rng = np.random.default_rng(3)
    x = (rng.standard_normal(1500) * 5).astype(np.float32)
    np.save(tmp_path / "row.npy", x)
    r = run("lse", "--file", tmp_path / "row.npy", "--dtype", "float32")
    assert r.exit_code == 0 and "LSE of 1500 value(s)" in r.stdout
    doc = run_json("lse", "--file", tmp_path / "row.npy", "--dtype", "float32")
    assert doc["input"]["shape"] == [1500] and doc["input"]["rows"] == 1
    assert doc["rows"][0]["reference"] == float(exact_lse(x.astype(np.float64)))


def test_bounds_and_underflow_batches(tmp_path):
    x = np.array([[-800.0, -900.0, -850.0], [1.0, 2.0, 3.0], [-100.0, -100.0, -100.0]])
    np.save(tmp_path / "u.npy", x)
    under = run_json("underflow", "--file", tmp_path / "u.npy", "--dtype", "float64")
    assert column(under, "float64", "naive", "underflow") == [True, False, False]
    assert column(under, "float64", "naive", "flushed_terms") == [3, 0, 0]
    bnd = run_json("bounds", "--file", tmp_path / "u.npy", "--dtype", "float64",
                   "--method", "shifted")
    assert entry(bnd, "float64", "shifted")["outside_rows"] == 0
    assert column(bnd, "float64", "shifted", "inside") == [True, True, True]
    # the tie row: LSE = -100 + log 3 exactly at the upper bound max + log n
    with mpmath.workprec(200):
        assert series(bnd, "float64", "shifted")[2]["reference"] == float(-100 + mpmath.log(3))


def test_temperature_and_k_on_a_batch(small_batch):
    x, path = small_batch
    doc = run_json("softmax", "--file", path, "--dtype", "float32", "--method", "shifted",
                   "--temperature", "2")
    rows = [r for r in doc["rows"] if r["temperature"] == 2.0]
    assert [r["row"] for r in rows] == list(range(7))
    for r in rows:  # softmax(x/2) of the float32 row, x/2 exact in float32
        lse = exact_lse(x[r["row"]].astype(np.float64) / 2)
        with mpmath.workprec(300):
            want = [float(mpmath.exp(mpmath.mpf(float(v) / 2) - lse)) for v in x[r["row"]]]
        assert r["reference"] == want


def test_temperature_refused_for_rows_too_long_for_its_exact_reference(tmp_path):
    np.save(tmp_path / "long.npy", np.ones((2, 1001), dtype=np.float32))
    r = run("softmax", "--file", tmp_path / "long.npy", "--temperature", "2")
    assert r.exit_code == 2 and "--temperature needs rows of at most 1000 values" in r.stderr


def test_no_progress_bar_when_not_a_terminal(small_batch):
    _, path = small_batch
    r = run("softmax", "--file", path)
    assert r.exit_code == 0 and r.stderr == ""


def test_single_long_row_on_two_threads_is_identical(tmp_path):
    from smoothcli.engine.inputs import Batch

    rng = np.random.default_rng(8)
    x = (rng.standard_normal((2, E.THREAD_MIN_N)) * 4).astype(np.float32)
    b = Batch("t", "npy", "float32", x.shape, -1, x)
    assert _document(b, 1) == _document(b, None)


def test_progress_bar_on_a_terminal(tmp_path):
    """stderr a terminal (a pseudo-terminal here) and a long batch: the rich progress bar is
    drawn there, and stdout holds the same report as without it."""
    import os
    import pty
    import subprocess
    import sys

    x = np.random.default_rng(5).normal(0, 3, (4, 1 << 18)).astype(np.float32)  # 2**20 values
    np.save(tmp_path / "big.npy", x)
    smooth = str(Path(sys.executable).parent / "smooth")
    cmd = [smooth, "lse", "--file", str(tmp_path / "big.npy"), "--dtype", "float32", "--json"]
    master, slave = pty.openpty()
    env = dict(os.environ, TERM="xterm", COLUMNS="80")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=slave, env=env)
    os.close(slave)
    out, _ = proc.communicate(timeout=300)
    drawn = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the other end closed
            break
        if not chunk:
            break
        drawn += chunk
    os.close(master)
    assert proc.returncode == 0
    assert b"rows" in drawn and b"/4" in drawn  # "rows ━━━ 2/4 ..."
    plain = subprocess.run(cmd, capture_output=True, timeout=300)
    assert plain.stderr == b""
    assert json.loads(out)["rows"] == json.loads(plain.stdout)["rows"]
