"""The exact references of ``smooth sigmoid`` and ``smooth abs`` at extreme arguments.

Three guards, each checked against expectations computed here, independently of smoothcli:

* huge |x| evaluates quickly and in little memory (softplus(1e16) = 1e16 + log1p(e^(−1e16))
  must not be summed exactly: that needs 1.4e16 bits), with the values the format forces;
* the gap |x| − f_k(x) of the smooth |x| is right where f_k(x) ≈ kx²/4 is far below |x|
  (it is ≈ |x|, not 0);
* error tails far below 1 are kept: the float16 σ(710) = 1.0 is off by e^(−710)/(1 + e^(−710))
  ≈ 4.5e-309, which must be reported, not rounded away with the reference.

Oracles: the textbook formulas evaluated by mpmath at hundreds of digits (tests/oracle.py for
rounding and ULPs), or exact reasoning on the format where mpmath cannot represent the exact
sum (the tail e^(−1e16) lies 1.4e16 bits below 1e16).
"""

from __future__ import annotations

import math
import os
import resource
import subprocess
import time
from fractions import Fraction

import mpmath
import numpy as np
import pytest

import oracle
from conftest import close, loads_strict, num

#: Address-space cap for the subprocess runs: the unguarded references needed 5.5–7.4 GB
#: (or ran out of memory) for one number; the guarded ones need a few tens of MB.
MEMORY_CAP = 1 << 30
#: Wall-time bound per subprocess run (interpreter start-up and imports included, ~0.2 s).
WALL_LIMIT = 3.0


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.fixture(scope="module")
def run_capped(venv_bin, env_with_smooth):
    """run_capped(*args) -> (JSON, seconds): the installed ``smooth`` under a 1 GiB memory cap."""
    env = dict(env_with_smooth, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")

    def run(*args):
        t0 = time.perf_counter()
        p = subprocess.run([str(venv_bin / "smooth"), *args, "--json"], capture_output=True,
                           text=True, env=env, preexec_fn=_cap_memory, timeout=120,
                           stdin=subprocess.DEVNULL)
        seconds = time.perf_counter() - t0
        assert p.returncode in (0, 1), (p.returncode, p.stderr)
        return loads_strict(p.stdout), seconds

    return run


def _rows(data, **match):
    out = [r for r in data["rows"] if all(r.get(k) == v for k, v in match.items())]
    assert out, match
    return out


def _tail(x: float):
    """log1p(e^(−|x|)) as an mpf (mpmath's exponent range has room for e^(−3.4e38))."""
    with mpmath.workdps(50):
        return mpmath.log1p(mpmath.exp(-abs(mpmath.mpf(x))))


# --- 1. huge arguments --------------------------------------------------------------------------

@pytest.mark.parametrize("token, dtype", [("727000", "float32"), ("1e16", "float64")])
def test_softplus_of_huge_x(run_capped, token, dtype):
    """softplus(x) = x + log1p(e^(−x)) with 0 < log1p(e^(−x)) < e^(−x) < 2^(−1,000,000): the
    exact value lies strictly between x and the next float, so its nearest float64 is x, and
    the error of a computed x is that tail, which is 0.0 as a float64."""
    data, seconds = run_capped("sigmoid", token, "--softplus", "--dtype", dtype)
    assert seconds < WALL_LIMIT
    x = float(np.dtype(dtype).type(float(token)))
    assert x == float(token)  # both are exact in the dtype
    tail = _tail(x)
    assert 0 < tail and float(tail) == 0.0
    stable = _rows(data, function="softplus", method="stable")[0]
    assert num(stable["value"]) == x
    assert num(stable["reference"]) == x
    assert num(stable["abs_error"]) == float(tail) == 0.0
    assert num(stable["ulp_error"]) == 0.0
    assert not (stable["overflow"] or stable["underflow"] or stable["nan"])
    naive = _rows(data, function="softplus", method="naive")[0]
    assert num(naive["value"]) == math.inf and naive["overflow"]  # e^x overflows
    # σ(x) = 1 − e^(−x)/(1 + e^(−x)): the nearest float64 is 1, and so is the computed value
    for r in _rows(data, function="sigmoid"):
        assert num(r["reference"]) == 1.0 and num(r["value"]) == 1.0
        assert num(r["abs_error"]) == 0.0


def test_log_sigmoid_of_most_negative_float32(run_capped):
    """log σ(x) = x − log1p(e^x) for x = float32(−3.4e38): the tail e^x ≈ 2^(−4.9e38) is
    invisible in every format, so the reference is x itself and the stable value exact."""
    data, seconds = run_capped("sigmoid", "--log-sigmoid", "--dtype", "float32", "-3.4e38")
    assert seconds < WALL_LIMIT
    x = float(np.float32(-3.4e38))
    stable = _rows(data, function="log_sigmoid", method="stable")[0]
    assert num(stable["value"]) == x and num(stable["reference"]) == x
    assert num(stable["ulp_error"]) == 0.0 and num(stable["abs_error"]) == float(_tail(x))
    naive = _rows(data, function="log_sigmoid", method="naive")[0]
    assert naive["overflow"]  # e^(−x) = e^(3.4e38) overflows
    sig = _rows(data, function="sigmoid", method="stable")[0]
    assert num(sig["reference"]) == 0.0  # e^(−3.4e38): far below float64's smallest subnormal
    assert num(sig["value"]) == 0.0 and num(sig["ulp_error"]) == 0.0


@pytest.mark.parametrize("token, dtype, binade", [("1e20", "float32", 66),
                                                  ("1e10", "float64", 33)])
def test_smooth_abs_of_huge_x(run_capped, token, dtype, binade):
    """f_1(x) = x − 2·log 2 + 2·log1p(e^(−x)) and max(x, 0) ≈ x − log 2 for x = 1e20 / 1e10:
    the computed x (what the stable form gives) is off by 2·log 2 (and log 2), far below the
    format's ULP 2^(binade − p + 1) there (2^binade ≤ x < 2^(binade + 1))."""
    data, seconds = run_capped("abs", token, "0", "--dtype", dtype)
    assert seconds < WALL_LIMIT
    x = float(np.dtype(dtype).type(float(token)))
    assert 2.0**binade <= x < 2.0**(binade + 1)
    p = np.finfo(dtype).nmant + 1
    ulp = Fraction(2) ** (binade - p + 1)
    with mpmath.workdps(60):
        two_log2 = 2 * mpmath.log(2)
        f = mpmath.mpf(x) - two_log2 + 2 * _tail(x)
    stable = _rows(data, function="smooth_abs", method="stable", input=token)[0]
    assert num(stable["gap"]) == float(two_log2)  # the tail 2·log1p(e^(−x)) is below its ULP
    want = oracle.expected_errors(num(stable["value"]), f, dtype)
    assert num(stable["abs_error"]) == pytest.approx(want["abs_error"], rel=1e-14)
    assert num(stable["ulp_error"]) == pytest.approx(want["ulp_error"], rel=1e-14)
    if num(stable["value"]) == x:
        assert num(stable["abs_error"]) == pytest.approx(float(two_log2), rel=1e-15)
        assert num(stable["ulp_error"]) == pytest.approx(float(Fraction(float(two_log2)) / ulp),
                                                         rel=1e-15)
    assert stable["inside"]
    zero = _rows(data, function="smooth_abs", method="stable", input="0")[0]
    assert num(zero["gap"]) == 0.0 and num(zero["value"]) == 0.0
    with mpmath.workdps(60):
        smooth_max = mpmath.mpf(x) - mpmath.log(2) + _tail(x)  # (x + 0 + f_1(x))/2
    for r in _rows(data, function="smooth_max2"):
        want = oracle.expected_errors(num(r["value"]), smooth_max, dtype)
        assert num(r["abs_error"]) == pytest.approx(want["abs_error"], rel=1e-14)
        assert num(r["ulp_error"]) == pytest.approx(want["ulp_error"], rel=1e-14)
        if num(r["value"]) == x:  # float32: x − log 2 rounds to x
            assert num(r["abs_error"]) == pytest.approx(float(two_log2 / 2), rel=1e-15)


def test_softplus_1e10_in_the_default_dtypes(run_capped):
    """1e10 = 9765625·2^10 is exact in float32 and float64 (9765625 < 2^24) and inf in float16
    (beyond 65504): softplus(inf) = inf and σ(inf) = 1 exactly."""
    data, seconds = run_capped("sigmoid", "--softplus", "1e10")
    assert seconds < WALL_LIMIT
    for dtype in ("float32", "float64"):
        assert float(np.dtype(dtype).type(1e10)) == 1e10
        stable = _rows(data, function="softplus", method="stable", dtype=dtype)[0]
        assert num(stable["value"]) == 1e10 and num(stable["reference"]) == 1e10
        assert num(stable["abs_error"]) == 0.0 and num(stable["ulp_error"]) == 0.0
    for r in _rows(data, function="softplus", dtype="float16"):
        assert num(r["reference"]) == math.inf and num(r["abs_error"]) == 0.0
    for r in _rows(data, function="sigmoid"):
        assert num(r["reference"]) == 1.0 and num(r["abs_error"]) == 0.0


# --- 2. the gap |x| − f_k(x) ----------------------------------------------------------------------

def _gap(x: float, k: float):
    """|x| − (2/k)·log cosh(kx/2) as written, at enough digits that the cancellation near 0
    (f_k ≈ kx²/4, 1e-401 next to 1e-200) leaves hundreds of correct digits."""
    with mpmath.workdps(1500):
        xv, kv = mpmath.mpf(x), mpmath.mpf(k)
        return abs(xv) - 2 / kv * mpmath.log(mpmath.cosh(kv * xv / 2))


@pytest.mark.parametrize("x, k", [(1e-200, 1.0), (-1e-200, 1.0), (1e-300, 4.0), (3e-9, 1.0),
                                  (0.5, 1.0), (1.5, 1.0), (-3.0, 1.0), (40.0, 1.0),
                                  (1e-100, 1e50)])
def test_gap_is_exact_near_zero(smooth_json, x, k):
    data = smooth_json("abs", "--k", repr(k), "--dtype", "float64", repr(x))
    want = oracle.nearest_float(_gap(x, k))
    assert want > 0
    for r in _rows(data, function="smooth_abs"):
        assert num(r["gap"]) == want, (r["method"], r["gap"], want)
        assert r["inside"] or r["method"] != "stable"


def test_gap_at_1e_minus_200_is_x():
    """At x = 1e-200, k = 1 the gap is |x| − 2.5e-401: its nearest float64 is |x| itself."""
    g = _gap(1e-200, 1.0)
    with mpmath.workdps(1500):
        assert abs(g - mpmath.mpf(1e-200) + mpmath.mpf(1e-200) ** 2 / 4) < mpmath.mpf(10) ** -600
    assert oracle.nearest_float(g) == 1e-200


# --- 3. error tails far below 1 are measured ------------------------------------------------------

def _sigma(x: float):
    with mpmath.workdps(oracle.DPS):
        return 1 / (1 + mpmath.exp(-mpmath.mpf(x)))


def _softplus(x: float):
    with mpmath.workdps(oracle.DPS):
        return mpmath.log(1 + mpmath.exp(mpmath.mpf(x)))


def _log_sigma(x: float):
    with mpmath.workdps(oracle.DPS):
        return -mpmath.log(1 + mpmath.exp(-mpmath.mpf(x)))


def test_sigmoid_710_in_float16_keeps_its_error(smooth_json):
    """σ(710) = 1 − e^(−710)/(1 + e^(−710)) rounds to 1.0 in float16; its error ≈ 4.5e-309 is
    9.2e-306 ULP (σ(710) ∈ [½, 1): ULP 2^(−1 − 10) = 2^(−11))."""
    data = smooth_json("sigmoid", "710", "--dtype", "float16")
    with mpmath.workdps(oracle.DPS):
        e = mpmath.exp(-710)
        err = e / (1 + e)
        assert abs((1 - _sigma(710)) - err) < mpmath.mpf(10) ** -390
    assert 4.4e-309 < float(err) < 4.6e-309
    for r in _rows(data, function="sigmoid"):
        assert num(r["value"]) == 1.0
        assert num(r["abs_error"]) == pytest.approx(float(err), rel=1e-12)
        assert num(r["ulp_error"]) == pytest.approx(float(err * 2**11), rel=1e-12)
        assert 9.1e-306 < num(r["ulp_error"]) < 9.3e-306


@pytest.mark.parametrize("fn, exact", [("sigmoid", _sigma), ("softplus", _softplus),
                                       ("log_sigmoid", _log_sigma)])
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("x", [40.0, 200.0, 710.0, -710.0, 720.0, -720.0])
def test_sigmoid_family_errors_keep_tails(smooth_json, fn, exact, dtype, x):
    """Every row's errors against the textbook formula at 400 digits (σ(40) in float64 is 1.0,
    0.038 ULP off; softplus(710) is 710 + 4.5e-309; log σ(−720) is −720 − 2e-313)."""
    args = ["sigmoid", "--dtype", dtype]
    args += {"softplus": ["--softplus"], "log_sigmoid": ["--log-sigmoid"]}.get(fn, [])
    data = smooth_json(*args, repr(x))
    ref = exact(x)
    for r in _rows(data, function=fn):
        want = oracle.expected_errors(num(r["value"]), ref, dtype)
        for key in ("abs_error", "ulp_error"):
            got = num(r[key])
            assert close(got, want[key], rel=1e-12), (r["method"], key, got, want[key])
