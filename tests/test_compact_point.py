"""The compact table view of ``smooth sigmoid``, ``smooth abs`` and ``smooth metrics``: every line
fits in 100 columns, the naive form's failures still show, and ``--full`` keeps every column."""

from __future__ import annotations

import mpmath
import numpy as np
import pytest

WIDTH = 100

COMMANDS = [
    ("sigmoid", "1", "2"),
    ("sigmoid", "1", "2", "--softplus", "--log-sigmoid"),
    ("abs", "3", "-1"),
    ("metrics", "--logits", "2.5,-1,0.3", "--labels", "1,0,0"),
    ("sigmoid", "710", "-710", "--dtype", "float16"),
    ("sigmoid", "-37.43", "1e-5", "4.6", "--softplus", "--dtype", "float64,bfloat16"),
    ("grad", "sigmoid", "37.43", "-40"),
    ("grad", "softplus", "100", "-3", "0"),
    ("grad", "log-sigmoid", "-400", "5"),
    ("grad", "abs", "0.001", "3", "--k", "10"),
    ("grad", "lse", "1", "2", "3"),
    ("grad", "lse", "100", "99.9", "-5", "--k", "1000"),
    ("grad", "max", "3", "3", "1"),
    ("metrics", "--logits", "2,1,0;0,3,1", "--labels", "0,1", "--method", "all"),
    ("abs", "1e-3", "30", "--k", "1", "--k", "10", "--dtype", "float64"),
]


def _table(smooth, *args) -> str:
    r = smooth(*args)
    assert r.exception is None, repr(r.exception)
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr)
    return r.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_compact_view_fits_in_100_columns(smooth, args):
    out = _table(smooth, *args)
    longest = max(out.splitlines(), key=len)
    assert len(longest) <= WIDTH, (len(longest), longest)


def _line(out: str, *words: str) -> str:
    hits = [ln for ln in out.splitlines() if all(w in ln.split() for w in words)]
    assert len(hits) == 1, (words, out)
    return hits[0]


def test_compact_sigmoid_shows_the_naive_float16_failure_at_minus_12(smooth):
    """naive σ(−12) = 1/(1 + e^12) in float16: e^12 overflows float16 (max 65504), so the result
    is 0 although the exact σ(−12) ≈ 6.1e-6 is a normal float16; the stable form is ok."""
    e12 = mpmath.exp(12)
    assert e12 > float(np.finfo(np.float16).max)
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.float16(12)))
    exact = 1 / (1 + mpmath.exp(12))
    nearest = np.float16(float(exact))
    assert nearest != 0  # a (subnormal) float16, not 0
    out = _table(smooth, "sigmoid", "-12", "--dtype", "float16")
    naive = _line(out, "float16", "naive")
    assert naive.split()[4] == "0.0"
    assert "inaccurate" in naive.split()  # the result is judged; the reason names the event
    assert "at x = -12: e^(−x) = inf in float16" in " ".join(out.split())
    table = out.split("\n\n")[1]  # the σ table (its reasons follow it)
    assert table.count(f"{float(exact):.8e}"[:6]) == 1  # the exact value once: 6.1441...
    stable = _line(out, "float16", "stable")
    assert np.float16(float(stable.split()[4])) == nearest
    assert stable.split()[-1] == "ok"


@pytest.mark.parametrize("args, header", [
    (("sigmoid", "1", "2"), "e (computed)"),
    (("sigmoid", "1", "2"), "softmax[0]"),
    (("abs", "3", "-1"), "2·log(2)/k"),
    (("abs", "3", "-1"), "(1/k)·log(e^kx + e^ky)"),
    (("metrics", "--logits", "2.5,-1,0.3", "--labels", "1,0,0"), "abs err"),
])
def test_full_prints_the_full_tables(smooth, args, header):
    def headers(out):  # the column-header lines: every table has an "ULP err" column
        return "\n".join(ln for ln in out.splitlines() if "ULP" in ln and "dtype" in ln)

    assert header not in headers(_table(smooth, *args))
    assert header in headers(_table(smooth, *args, "--full"))


def test_json_is_the_same_with_and_without_full(smooth):
    import json

    for args in COMMANDS:
        a = json.loads(_table(smooth, *args, "--json"))
        b = json.loads(_table(smooth, *args, "--json", "--full"))
        assert a == b, args


@pytest.mark.parametrize("command", ["sigmoid", "abs", "metrics"])
def test_help_mentions_full(smooth, command):
    r = smooth(command, "--help")
    assert r.exit_code == 0 and "--full" in r.stdout
