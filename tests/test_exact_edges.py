"""References at the edges of float64: subnormal results rounded once, and tails far below a
result's ULP that still decide its binade.  Expectations from mpmath at high precision and exact
rational rounding written here."""

from __future__ import annotations

import json

import mpmath
from typer.testing import CliRunner

import oracle
from smoothcli.cli import app


def run_json(*args) -> dict:
    r = CliRunner().invoke(app, [str(a) for a in args] + ["--json"])
    assert r.exit_code in (0, 1), (r.exit_code, r.stderr)
    return json.loads(r.stdout)


def test_subnormal_softmax_reference_is_rounded_once():
    # e^-708.52 / (1 + e^-708.52) = 3980054554927406.74 · 2^-1074: nearest 3980054554927407
    with mpmath.workprec(600):
        x = mpmath.mpf(-708.52)  # the float64 typed, exactly
        y = mpmath.exp(x) / (1 + mpmath.exp(x))
        assert abs(y * mpmath.ldexp(1, 1074) - mpmath.mpf("3980054554927406.74")) < 0.01
        want = oracle.nearest_float(y)
    assert want == 3980054554927407 * 2.0 ** -1074
    row = run_json("softmax", "0", "-708.52", "--dtype", "float64", "--method", "shifted")
    assert row["rows"][0]["reference"][1] == want


def test_tails_far_below_the_ulp_keep_the_binade():
    # softmax(6000, 0)[0] = 1 − δ, δ ≈ e^-6000 ≈ 2^-8656: below 1, where float64's ULP is
    # 2^-53.  exp-lse computes it as exp(6000 − inf) = 0: an error of (1 − δ)/2^-53 ≈ 2^53 ULP.
    row = run_json("softmax", "6000", "0", "--dtype", "float64", "--method", "exp-lse")["rows"][0]
    assert row["value"][0] == 0.0 and row["ulp_errors"][0] == 2.0 ** 53
    # the same in float16: 65504 is float16's max, exp overflows, 1 − δ has ULP 2^-11
    row = run_json("softmax", "65504", "0", "--dtype", "float16", "--method", "exp-lse")["rows"][0]
    assert row["value"][0] == 0.0 and row["ulp_errors"][0] == 2.0 ** 11


def test_sweeps_over_the_whole_float64_range_finish_quickly():
    """A grid spanning ±1.7e308 (its step is beyond float64 as a float, not as a rational;
    each of these exited 70, after 15 s for the σ sweeps):
    exp(1 + c) is 0 at c = −1.7e308 (underflow: e^-1.7e308 is far below 2^-1074), e at c = 0,
    and inf at c = 1.7e308 (overflow); the σ sweeps over ±1e308 end too."""
    doc = run_json("sweep", "exp", "1", "--shift", "-1.7e308:1.7e308", "--steps", "3",
                   "--dtype", "float64")
    (row,) = doc["rows"]
    assert doc["c"] == [-1.7e308, 0.0, 1.7e308]
    assert row["value"] == [[0.0], [float(mpmath.e)], ["inf"]]
    assert row["status"] == ["underflow", "ok", "overflow"]
    for args in (["sweep", "sigmoid", "1", "--scale", "-1e308:1e308", "--steps", "2"],
                 ["sweep", "sigmoid", ".5", "--scale=-1e308:1e308"]):
        doc = run_json(*args, "--dtype", "float64")
        for r in doc["rows"]:  # σ(c·x) at c = ±1e308: exactly 0 and 1 in float64
            assert [v[0] for v in r["reference"]][0] == 0.0
            assert [v[0] for v in r["reference"]][-1] == 1.0


def test_metrics_refuses_more_logits_than_it_evaluates(tmp_path):
    import numpy as np

    np.save(tmp_path / "l.npy", np.zeros((1 << 20) + 1))
    np.save(tmp_path / "y.npy", np.zeros((1 << 20) + 1, dtype=np.int64))
    r = CliRunner().invoke(app, ["metrics", "--logits", str(tmp_path / "l.npy"), "--labels",
                                 str(tmp_path / "y.npy")])
    assert r.exit_code == 2 and "1,048,577 logits are more than the 1,048,576" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
