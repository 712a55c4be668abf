"""Blocks of rows: many short rows are evaluated a block at a time, every stage vectorised over
the block (but the exact reference of rows of at most 64 values, one per row), and must give
exactly the numbers of the row-by-row evaluation.

The agreement is checked on random batches with every kind of row the engine treats apart
(special values, ties, masked entries, cancellation near LSE = 0, inputs that overflow a
dtype, spreads wide enough to leave float64's range), in every dtype and method, and in the
other sum orders and accumulations.  Agreement alone would not catch a mistake both paths
share, so the block results are also checked against exact values computed here with mpmath.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest
from typer.testing import CliRunner

from oracle import exact, expected_errors, lse_exact, softmax_exact, ulp
from smoothcli.cli import app
from smoothcli.core.accumulation import get_accumulation
from smoothcli.core.formats import FORMATS
from smoothcli.engine import evaluate as engine
from smoothcli.engine.inputs import Batch
from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS

DTYPES = ["float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2"]


def evaluate(kind, data, dtypes, methods, blocks, monkeypatch, order="pairwise", acc=None,
             elements=False):
    monkeypatch.setattr(engine, "BLOCKS", blocks)
    batch = Batch("test", "npy", data.dtype.name, data.shape, -1, data)
    plan = engine.Plan(kind, [FORMATS[d] for d in dtypes], methods,
                       get_accumulation(order, acc), elements=elements)
    return engine.evaluate(plan, batch, progress=False)


def random_batch(seed: int, n: int, rows: int = 24):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, n)) * rng.choice([1, 5, 30, 300], size=(rows, 1))
    x[1] = 0.5  # ties: every input equal
    x[2, -1] = np.nan
    x[3, 0] = np.inf
    x[4] = -np.inf  # a fully masked row
    x[5, :min(5, n - 1)] = -np.inf  # masked entries
    x[6] *= 1e-20
    x[7, 0] = 70000.0  # beyond float16's range
    x[8] = -math.log(n) + rng.normal(size=n) * 1e-9  # LSE near 0: cancellation
    x[9] = rng.normal(size=n) * 800  # exp(x - m) leaves float64's range
    x[10] = 11.0 + rng.normal(size=n) * 1e-3
    return x


def assert_same(rows, blocks):
    assert rows.reference_kinds == blocks.reference_kinds
    assert rows.changed == blocks.changed
    for a, b in zip(rows.series, blocks.series, strict=True):
        assert (a.dtype, a.method) == (b.dtype, b.method)
        for key in a.arrays:
            assert np.array_equal(a.arrays[key], b.arrays[key], equal_nan=True), (
                a.dtype, a.method, key, np.flatnonzero(a.arrays[key] != b.arrays[key])[:5])
        assert a.bound_rule == b.bound_rule, (a.dtype, a.method)
        assert a.reference_decimal == b.reference_decimal, (a.dtype, a.method)
        for i, (ea, eb) in enumerate(zip(a.elements or [], b.elements or [], strict=True)):
            assert (ea is None) == (eb is None), (a.method, i)
            if ea is None:  # (an LSE row keeps no elements)
                continue
            assert ea.keys() == eb.keys(), (a.method, i)
            for key in ea:
                if key == "reference_decimal":
                    assert list(ea[key]) == list(eb[key]), (a.dtype, a.method, i)
                else:
                    assert np.array_equal(ea[key], eb[key], equal_nan=True), (a.method, i, key)


@pytest.mark.parametrize("kind", ["lse", "softmax"])
@pytest.mark.parametrize("stored", ["float64", "float32", "float16"])
@pytest.mark.parametrize("n", [1, 10, 64, 65, 200])  # (up to 64: the exact reference)
def test_blocks_give_the_numbers_of_rows(kind, stored, n, monkeypatch):
    methods = list(SOFTMAX_METHODS if kind == "softmax" else LSE_METHODS)
    with np.errstate(over="ignore"):
        data = np.ascontiguousarray(random_batch(n + len(stored), n).astype(stored))
    rows = evaluate(kind, data, DTYPES, methods, False, monkeypatch)
    blocks = evaluate(kind, data, DTYPES, methods, True, monkeypatch)
    assert_same(rows, blocks)


@pytest.mark.parametrize("n", [10, 100])
def test_blocks_keep_every_element_like_rows(n, monkeypatch):
    """--json keeps every element's numbers: the same arrays and decimals from blocks."""
    data = random_batch(n, n, rows=14)
    for kind in ("softmax", "lse"):
        args = (kind, data, ["float16", "float32", "float64"], ["naive", "shifted"])
        assert_same(evaluate(*args, False, monkeypatch, elements=True),
                    evaluate(*args, True, monkeypatch, elements=True))


@pytest.mark.parametrize("order,acc", [("sequential", None), ("pairwise", "float64"),
                                       ("sequential", "float32")])
def test_blocks_follow_the_sum_order_and_accumulation(order, acc, monkeypatch):
    data = random_batch(7, 100)
    for kind in ("lse", "softmax"):
        args = (kind, data, ["float16", "bfloat16", "float32"], ["naive", "shifted"])
        assert_same(evaluate(*args, False, monkeypatch, order, acc),
                    evaluate(*args, True, monkeypatch, order, acc))


def test_blocks_are_used_and_right(monkeypatch):
    """The block path runs for many short rows, and its numbers are the exact ones: softmax
    ULP errors and LSE errors against mpmath at 50 digits."""
    calls = []
    block = engine._Worker.block
    monkeypatch.setattr(engine._Worker, "block",
                        lambda self, i, j: calls.append((i, j)) or block(self, i, j))
    rng = np.random.default_rng(3)
    data = rng.normal(size=(6, 80)) * 2.5  # (naive float16 overflows above 11.09)
    for kind in ("softmax", "lse"):
        ev = evaluate(kind, data, ["float16", "float32"], ["naive", "shifted"], True,
                      monkeypatch)
        assert calls and calls[-1] == (0, 6)
        for s in ev.series:
            for i in range(6):
                x = [float(v) for v in data[i].astype(s.format.np)]
                if kind == "lse":
                    want = expected_errors(float(s["value"][i]), lse_exact(x), s.dtype)
                    assert math.isclose(s["ulp_error"][i], want["ulp_error"], rel_tol=1e-6,
                                        abs_tol=2e-3)
                    continue
                ys = softmax_exact(x)
                got = evaluate_row(x, s.dtype, s.method)
                worst = max(float(abs(Fraction(v) - exact(y)) / ulp(y, s.dtype))
                            for v, y in zip(got, ys))
                assert math.isclose(s["ulp_error"][i], worst, rel_tol=1e-6, abs_tol=2e-3)


def evaluate_row(x, dtype, method):
    """The softmax of one row in ``dtype``, computed here with numpy (the two methods)."""
    t = np.array(x, dtype=FORMATS[dtype].np)
    if method == "shifted":
        t = t - t.max()
    e = np.exp(t)
    return [float(v) for v in e / e.sum(dtype=e.dtype)]  # every step rounded to the dtype


def test_a_fast_reference_is_settled_for_its_own_dtype(monkeypatch):
    """float16 values whose LSE is 3.05e-9: the float64 fast reference is good to 1/128 ULP of
    float16 there, not of float32, whose ULP is 2**-52 (2**-29 · 2**-23): evaluated in float16
    and float32, the float32 row must get a reference of its own (formerly it reused the
    float16 one)."""
    x = np.array([-3.908203125] * 48 + [-6.1484375] * 17, dtype=np.float16)
    exact = lse_exact([float(v) for v in x], 60)
    for blocks, data in ((False, x[None, :]), (True, np.stack([x, x]))):
        ev = evaluate("lse", data, ["float16", "float32"], ["shifted"], blocks, monkeypatch)
        s = next(s for s in ev.series if s.dtype == "float32")
        err = abs(s.reference_mpf[0] - exact) / ulp(exact, "float32")
        assert err <= mpmath.mpf(1) / 128, float(err)


def test_a_large_file_of_short_rows_reads_in_blocks(tmp_path):
    """A file read a block of rows at a time (rows of a large .npy) gives the numbers of the
    same rows held in memory."""
    rng = np.random.default_rng(5)
    data = rng.normal(size=(300, 70)) * 8
    np.save(tmp_path / "a.npy", data)
    np.save(tmp_path / "b.npy", np.ascontiguousarray(data.T))
    out = []
    for args in (["--file", tmp_path / "a.npy"], ["--file", tmp_path / "b.npy", "--axis", "0"]):
        r = CliRunner().invoke(app, ["softmax", *map(str, args), "--json", "--dtype",
                                     "float16,float32"])
        assert r.exit_code in (0, 1), r.stderr
        out.append([(row["row"], row["dtype"], row["method"], row["ulp_error"], row["bits"])
                    for row in json.loads(r.stdout)["rows"]])
    assert out[0] == out[1] and len(out[0]) == 300 * 4


@pytest.mark.parametrize("kind", ["lse", "softmax"])
def test_a_sweep_in_blocks_is_the_sweep_row_by_row(kind, monkeypatch):
    """A sweep is a batch whose rows are its points: in blocks (its exact inputs x + c rounded
    a block at a time) it reports what it reports point by point."""
    out = []
    for blocks in (False, True):
        monkeypatch.setattr(engine, "BLOCKS", blocks)
        r = CliRunner().invoke(app, ["sweep", kind, "0", "1", "0.1", "--shift", "-800:800",
                                     "--steps", "101", "--dtype", "float16,float32",
                                     "--json"])
        assert r.exit_code in (0, 1), r.stderr
        out.append(json.loads(r.stdout)["rows"])
    assert out[0] == out[1] and len(out[0]) == 4


def test_decimal_text_rows_in_blocks_are_the_rows(tmp_path, monkeypatch):
    """Decimal text is read as the nearest float64, except tokens whose float64 lands on a
    midpoint of a narrower dtype, which are rounded from their exact decimal: in blocks as row
    by row.  1.000488281250000000001 is just above 1 + 2**-11, float16's midpoint between 1 and
    1 + 2**-10, on which its nearest float64 lands: float16 must round it up."""
    rng = np.random.default_rng(9)
    lines = [" ".join(f"{v:.3f}" for v in rng.normal(size=70) * 6) for _ in range(40)]
    lines[3] = " ".join(["1.000488281250000000001"] * 69 + ["0"])
    (tmp_path / "rows.txt").write_text("\n".join(lines) + "\n")
    out = []
    for blocks in (False, True):
        monkeypatch.setattr(engine, "BLOCKS", blocks)
        r = CliRunner().invoke(app, ["softmax", "--file", str(tmp_path / "rows.txt"), "--json",
                                     "--dtype", "float16,bfloat16,float32,float64"])
        assert r.exit_code in (0, 1), r.stderr
        doc = json.loads(r.stdout)
        out.append((doc["rows"], doc["summary"]))
    assert out[0] == out[1]
    top = {(row["dtype"], row["row"]): row["max"] for row in out[1][0]}
    assert top["float16", 3] == 1 + 2.0 ** -10  # up, from the exact decimal
    assert top["float64", 3] == 1 + 2.0 ** -11  # the nearest float64
