"""--peer scipy / --peer torch: what other libraries return for the same dtype-rounded
inputs, measured against the mpmath reference computed here.  torch is never installed by the
tests: its tests skip when it is not importable."""

from __future__ import annotations

import importlib.util
import math

import mpmath
import numpy as np
import pytest

import oracle_ml as O
from oracle import decimal_is_correct, num

scipy_special = pytest.importorskip("scipy.special")

HAS_TORCH = importlib.util.find_spec("torch") is not None


@pytest.mark.parametrize("xs", [["1.5", "-2", "0.25"], ["710", "12"], ["-800", "-900"]])
def test_scipy_lse_rows(smooth_json, xs):
    dtypes = ["float16", "float32", "float64", "bfloat16", "float8_e5m2"]
    doc = smooth_json("lse", *xs, "--dtype", ",".join(dtypes), "--method", "shifted",
                      "--peer", "scipy")
    peer = {r["dtype"]: r for r in doc["rows"] if r["method"] == "scipy"}
    assert set(peer) == set(dtypes)
    for name, r in peer.items():
        rx = [O.round_model(x, name) for x in xs]
        arr = np.array(rx, dtype=np.float64).astype(O.np_dtype(name))
        with np.errstate(all="ignore"):
            want = np.asarray(scipy_special.logsumexp(arr))
        assert num(r["value"]) == float(want)
        assert f"returned {want.dtype.name}" in r["accumulation"]
        y = O.lse(rx)
        assert decimal_is_correct(r["reference_decimal"], y)
        with mpmath.workprec(O.PREC):
            assert math.isclose(r["abs_error"], float(abs(mpmath.mpf(float(want)) - y)),
                                rel_tol=1e-9, abs_tol=0)
        assert r["bits"] == O.herbie_bits(O.round_model(float(want), name), y, name)
        assert r["overflow"] is False and r["nan"] is False and r["underflow"] is False


def test_scipy_softmax_rows(smooth_json):
    xs = ["1000", "1000", "999"]
    doc = smooth_json("softmax", *xs, "--dtype", "float16,bfloat16,float32", "--method",
                      "shifted", "--peer", "scipy")
    for r in (r for r in doc["rows"] if r["method"] == "scipy"):
        name = r["dtype"]
        rx = [O.round_model(x, name) for x in xs]
        arr = np.array(rx, dtype=np.float64).astype(O.np_dtype(name))
        want = np.asarray(scipy_special.softmax(arr)).astype(np.float64)
        assert r["value"] == [float(v) for v in want]
        for text, g in zip(r["reference_decimal"], O.softmax(rx)):
            assert decimal_is_correct(text, g)
        assert r["bound_rule"].startswith(("BHH Thm 4.3", "exceeds BHH Thm 4.3"))


def test_scipy_on_an_input_that_overflows_e4m3fn(smooth_json):
    # 710 is NaN in float8_e4m3fn: scipy returns NaN, and the row says the input overflowed
    doc = smooth_json("lse", "710", "12", "--dtype", "float8_e4m3fn", "--method", "shifted",
                      "--peer", "scipy")
    r = [r for r in doc["rows"] if r["method"] == "scipy"][0]
    assert math.isnan(num(r["value"])) and r["overflow"] is True


def test_unknown_peer_is_a_usage_error(smooth):
    r = smooth("lse", "1", "2", "--peer", "jax")
    assert r.exit_code == 2 and "jax" in r.stderr and "scipy" in r.stderr


@pytest.mark.skipif(HAS_TORCH, reason="torch is importable here")
def test_torch_missing_is_a_clear_usage_error(smooth):
    r = smooth("lse", "1", "2", "--peer", "torch")
    assert r.exit_code == 2 and "torch is not installed" in r.stderr


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not importable")
def test_torch_rows(smooth_json):
    import torch

    xs = ["1.5", "-2", "0.25"]
    doc = smooth_json("lse", *xs, "--dtype", "float16,float32,bfloat16", "--method",
                      "shifted", "--peer", "torch")
    for r in (r for r in doc["rows"] if r["method"] == "torch"):
        name = r["dtype"]
        rx = [O.round_model(x, name) for x in xs]
        t = torch.tensor(rx, dtype=torch.float64).to(getattr(torch, name))
        assert num(r["value"]) == float(torch.logsumexp(t, dim=0).to(torch.float64))
        assert decimal_is_correct(r["reference_decimal"], O.lse(rx))
    doc = smooth_json("softmax", *xs, "--dtype", "float16", "--peer", "torch")
    r = [r for r in doc["rows"] if r["method"] == "torch"][0]
    t = torch.tensor([O.round_model(x, "float16") for x in xs], dtype=torch.float16)
    assert r["value"] == [float(v) for v in torch.softmax(t, dim=0).to(torch.float64)]
