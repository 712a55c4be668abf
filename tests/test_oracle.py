"""The oracle's own checks: tests/oracle.py against numpy, ml_dtypes, hand-decoded tables and
itself — never against smoothcli, which it must not import."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import oracle

TESTS = Path(__file__).resolve().parent


def test_the_oracle_does_not_import_smoothcli():
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import oracle; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'smoothcli'))")
    p = subprocess.run([sys.executable, "-c", code, str(TESTS)], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]", p.stdout
    source = (TESTS / "oracle.py").read_text()
    assert not re.search(r"^\s*(import|from)\s+smoothcli|import_module\(.smoothcli", source, re.M)


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_facts_from_the_bit_layout_match_numpy_finfo(name):
    f, fi = oracle.facts(name), np.finfo(name)
    assert f["p"] == fi.nmant + 1
    assert f["emin"] == fi.minexp and f["emax"] == fi.maxexp - 1
    assert f["max"] == Fraction(float(fi.max))
    assert f["tiny"] == Fraction(float(fi.smallest_normal))
    assert f["subnormal"] == Fraction(float(fi.smallest_subnormal))
    assert f["eps"] == Fraction(float(fi.eps))


def test_the_two_oracles_agree_on_float16():
    table = oracle.all_values("float16")
    for q in [Fraction(1, 10), Fraction(2**-25), Fraction(3, 2**25), Fraction(65520),
              Fraction("65519.99"), Fraction("1.000488281250000001"), Fraction(1, 3)]:
        assert oracle.round_to(q, np.float16) == oracle.round_float16_by_table(q, table)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2"])
def test_ml_dtypes_python_float_constructor_agrees_with_the_model(name):
    """ml_dtypes' scalar constructor from a Python float rounds float8 directly (no float32
    detour): it agrees with the model at every midpoint ± a hair — a cross-check of the model."""
    T = oracle.np_dtype(name).type
    for x in oracle.neighbour_points(oracle.all_values(name)):
        v = float(x)
        g, w = float(T(v)), oracle.round_to(v, name)
        assert g == w or (math.isnan(g) and math.isnan(w)), (name, v)
