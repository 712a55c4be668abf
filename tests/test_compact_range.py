"""The default tables of ``smooth exp-range`` and ``smooth sweep`` fit in 100 columns; ``--full``
keeps every column."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from smoothcli.cli import app

runner = CliRunner()


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("args", [
    ["exp-range"],
    ["exp-range", "--dtype", "all"],
    ["sweep", "lse", "0", "1", "--shift", "-800:800"],
    ["sweep", "softmax", "0", "1", "--shift", "-20:20", "--steps", "21"],
])
def test_default_output_fits_in_100_columns(args):
    out = run(*args)
    assert max(len(line) for line in out.splitlines()) <= 100, out


def test_compact_exp_range_shows_float16_largest_finite_x():
    with np.errstate(over="ignore"):
        x = np.float16(11.0859375)
        assert np.isfinite(np.exp(x))
        assert np.isinf(np.exp(np.nextafter(x, np.float16(np.inf))))
    out = run("exp-range")
    row = next(line for line in out.splitlines() if line.split()[:1] == ["float16"])
    assert "11.0859375" in row.split()
    assert "numpy exp agrees" not in out  # a column of the full table only


def test_full_keeps_every_column():
    out = run("exp-range", "--full")
    for header in ("ln(max)", "smallest subnormal", "numpy exp agrees", "88.72283172607421875"):
        assert header in out
    out = run("sweep", "lse", "0", "1", "--shift", "-800:800", "--full")
    for header in ("between steps", "worst ULP", "worst bits",
                   "-709.70968021978234219204750843346118927001953125"):
        assert header in out
    compact = run("sweep", "lse", "0", "1", "--shift", "-800:800")
    assert "between steps" not in compact and "-709.709680219782342…" in compact


@pytest.mark.parametrize("args", [["exp-range", "--dtype", "all"],
                                  ["sweep", "lse", "0", "1", "--shift", "-800:800"]])
def test_json_does_not_depend_on_full(args):
    assert json.loads(run(*args, "--json")) == json.loads(run(*args, "--full", "--json"))


@pytest.mark.parametrize("command", ["exp-range", "sweep"])
def test_help_mentions_full(command):
    assert "--full" in run(command, "--help")
