"""One engine: the same numbers give the same row whatever way they come in.

For random vectors, the typed command, the same numbers as a one-row ``.npy`` file, the same
numbers as a row inside a 2-D batch, and the matching sweep point (c = 0 of ``--shift 0:1``) must
give identical values, references, errors and flags; the JSON rows have the same keys whatever
the input size.  The expectations here are the other paths' outputs plus an independent mpmath
check of the reference (the agreement alone would not catch a shared mistake).
"""

from __future__ import annotations

import json
import math

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from smoothcli.cli import app

COMPARED = ("value", "reference", "reference_decimal", "abs_error", "rel_error", "ulp_error",
            "bits", "overflow", "underflow", "nan", "flushed_terms", "sumexp")


def run_json(*args) -> dict:
    r = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr, r.exception)
    return json.loads(r.stdout)


def rows_of(doc: dict, row: int = 0) -> dict:
    return {(r["dtype"], r["method"]): r for r in doc["rows"] if r["row"] == row}


def exact_lse(xs) -> mpmath.mpf:
    with mpmath.workprec(400):
        finite = [mpmath.mpf(float(v)) for v in xs if v != -math.inf]
        m = max(finite)
        return m + mpmath.log(mpmath.fsum(mpmath.exp(v - m) for v in finite))


values = st.lists(st.floats(-120, 120, width=32, allow_subnormal=False), min_size=1,
                  max_size=8).map(lambda v: [float(np.float32(x)) for x in v])
lengths = st.sampled_from([1, 1, 1, 20]).flatmap(
    lambda k: values.map(lambda v: (v * k)[: max(len(v), 8 * (k > 1) + 70 * (k > 1))]))


@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(xs=lengths, kind=st.sampled_from(["lse", "softmax"]))
def test_typed_file_batch_row_and_sweep_point_agree(tmp_path_factory, xs, kind):
    tmp = tmp_path_factory.mktemp("one")
    common = ["--dtype", "float16,bfloat16,float32,float64", "--method", "all"]
    typed = rows_of(run_json(kind, *[repr(v) for v in xs], *common))
    np.save(tmp / "row.npy", np.array(xs, dtype=np.float64))
    one = rows_of(run_json(kind, "--file", tmp / "row.npy", *common))
    rng = np.random.default_rng(len(xs))
    batch = rng.normal(0, 30, (3, len(xs)))
    batch[1] = xs
    np.save(tmp / "batch.npy", batch)
    inside = rows_of(run_json(kind, "--file", tmp / "batch.npy", *common), row=1)
    assert typed.keys() == one.keys() == inside.keys()
    for key in typed:
        for field in COMPARED:
            a, b, c = typed[key][field], one[key][field], inside[key][field]
            assert a == b == c, (key, field, a, b, c)
        assert typed[key].keys() == one[key].keys() == inside[key].keys()
    # the sweep point at c = 0 holds the same numbers (x + 0 = x exactly)
    sweep = run_json("sweep", kind, *[repr(v) for v in xs], "--shift", "0:1", "--steps", "2",
                     *common)
    for s in sweep["rows"]:
        row = typed[s["dtype"], s["method"]]
        assert s["value"][0] == row["value"] and s["reference"][0] == row["reference"]
        assert s["ulp_errors"][0] == row["ulp_error"] and s["bits_errors"][0] == row["bits"]
        for flag in ("overflow", "underflow", "nan"):
            assert s[f"{flag}_at"][0] == row[flag], (s["dtype"], s["method"], flag)
    # and the shared reference is right (independently, at 400 bits)
    if kind == "lse":
        r = typed["float64", "shifted"]
        assert r["reference"] == float(exact_lse(xs))


def test_row_keys_do_not_depend_on_the_input_size(tmp_path):
    """seq 1 1000 and seq 1 1001 give rows with the same keys (the old short and batch paths
    did not), and one summary entry per (dtype, method) either way."""
    keys = []
    for n in (1000, 1001):
        text = "\n".join(str(i) for i in range(1, n + 1)) + "\n"
        r = CliRunner().invoke(app, ["softmax", "--json", "--dtype", "float32"], input=text)
        assert r.exit_code in (0, 1), r.stderr
        doc = json.loads(r.stdout)
        keys.append((sorted(doc), [sorted(row) for row in doc["rows"]],
                     [sorted(e) for e in doc["summary"]]))
        assert all(len(row["value"]) == n for row in doc["rows"])
    assert keys[0] == keys[1]


@pytest.mark.parametrize("command", [
    ["softmax", "70000", "1", "--dtype", "float16", "-T", "1", "--method", "shifted"],
    ["lse", "70000", "70001", "--dtype", "float16", "--method", "shifted"],
])
def test_same_flag_rules_for_plain_temperature_and_sweep(command):
    """70000 rounds to inf in float16 (max 65504): every path says the inputs overflowed."""
    doc = run_json(*command)
    assert doc["rows"] and all(r["inputs_overflowed"] and r["overflow"] for r in doc["rows"])
    sweep = run_json("sweep", "lse", "0", "1", "--shift", "69999:70000", "--steps", "2",
                     "--dtype", "float16", "--method", "shifted")
    assert all(all(s["overflow_at"]) for s in sweep["rows"])


def test_every_module_imports_on_its_own():
    """No import cycles: each module of the package imports in a fresh interpreter."""
    import pkgutil
    import subprocess
    import sys

    import smoothcli

    names = [m.name for m in pkgutil.walk_packages(smoothcli.__path__, "smoothcli.")
             if not m.name.endswith("__main__")]  # (importing it runs the CLI)
    assert "smoothcli.methods.bhh" in names and "smoothcli.engine.evaluate" in names
    code = ("import importlib, sys\nfor n in sys.argv[1:]:\n"
            "    importlib.import_module(n)\n")
    for name in names:
        r = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True)
        assert r.returncode == 0, (name, r.stderr[-400:])
