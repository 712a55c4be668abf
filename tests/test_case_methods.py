"""The methods the casebook's fixes need, against expectations computed without them."""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from smoothcli.core.accumulation import Accumulation
from smoothcli.methods.registry import LSE_METHODS, SOFTMAX_METHODS, resolve_methods

ACC = Accumulation()


def test_new_methods_are_by_name_only():
    for m in ("upcast", "safe"):
        assert m in SOFTMAX_METHODS
    for m in ("upcast", "shifted-unguarded", "online-unguarded"):
        assert m in LSE_METHODS
    assert not {"upcast", "safe"} & set(resolve_methods(["all"], SOFTMAX_METHODS))
    assert resolve_methods(["safe"], SOFTMAX_METHODS) == ["safe"]


def test_safe_softmax_zeros_only_for_all_minus_inf():
    safe = SOFTMAX_METHODS["safe"]
    z = safe(np.full(4, -np.inf, dtype=np.float32), ACC).value
    assert z.dtype == np.float32 and z.tolist() == [0.0] * 4
    x = np.array([-np.inf, 0.0, -np.inf], dtype=np.float32)
    assert safe(x, ACC).value.tolist() == [0.0, 1.0, 0.0]
    with np.errstate(invalid="ignore"):
        assert np.isnan(safe(np.array([0.0, np.inf], dtype=np.float32), ACC).value).any()


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_upcast_rounds_the_float32_result_once(dtype):
    import ml_dtypes

    dt = np.dtype(getattr(ml_dtypes, dtype, None) or dtype)
    x = np.array([3.0, 1.0, 0.25, -2.0], dtype=dt)
    x32 = x.astype(np.float32)
    e = np.exp(x32 - x32.max())
    want = (e / e.sum()).astype(dt)  # torch.softmax(x, dtype=float32).to(dtype), by hand
    got = SOFTMAX_METHODS["upcast"](x, ACC).value
    assert got.dtype == dt and np.array_equal(got.astype(np.float32), want.astype(np.float32))
    lse = LSE_METHODS["upcast"](x, ACC).value
    exact = mpmath.log(sum(mpmath.exp(mpmath.mpf(float(v))) for v in x32))
    assert lse.dtype == dt
    assert abs(float(lse) - float(exact)) <= float(np.spacing(np.float32(float(lse)).astype(dt)))


def test_upcast_in_float64_is_shifted():
    x = np.array([1.0, 2.0, 3.0])
    assert LSE_METHODS["upcast"](x, ACC).value == LSE_METHODS["shifted"](x, ACC).value


def test_unguarded_forms_make_nan_where_the_guarded_do_not():
    x = np.array([-np.inf, -np.inf], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        assert math.isnan(LSE_METHODS["shifted-unguarded"](x, ACC).value)
        assert math.isnan(LSE_METHODS["online-unguarded"](x, ACC).value)
    assert LSE_METHODS["online"](x, ACC).value == -np.inf
    lead = np.array([-np.inf, 2.0, -np.inf], dtype=np.float32)
    first = np.array([2.0, -np.inf, -np.inf], dtype=np.float32)
    with np.errstate(invalid="ignore"):
        assert math.isnan(LSE_METHODS["online-unguarded"](lead, ACC).value)
    assert LSE_METHODS["online-unguarded"](first, ACC).value == 2.0
    assert LSE_METHODS["online"](lead, ACC).value == 2.0


def test_softplus_torch_spec_matches_torch():
    torch = pytest.importorskip("torch")
    from smoothcli.methods.torch_forms import softplus_torch_spec

    spec = softplus_torch_spec()
    xs = np.array([-30.0, -1.0, 0.0, 0.5, 19.9, 20.4, 40.0])
    got = spec.run("torch-form", (xs,)).value
    want = torch.nn.functional.softplus(torch.tensor(xs)).numpy()
    assert np.allclose(got, want, rtol=4e-16, atol=0)
    assert got[5] == 20.4  # above the threshold: x itself, as torch
    stable = spec.run("stable", (xs,)).value
    exact = [mpmath.log1p(mpmath.exp(mpmath.mpf(v))) for v in xs]
    assert all(abs(s - float(e)) <= math.ulp(float(e)) for s, e in zip(stable, exact))
    r, _ = spec.exact((20.4,))
    with mpmath.workprec(200):
        want = mpmath.mpf(20.4) + mpmath.log1p(mpmath.exp(-mpmath.mpf(20.4)))
        assert abs(r - want) < want * mpmath.mpf(2) ** -90


def test_softplus_torch_small_beta_overflows_float16_like_torch():
    torch = pytest.importorskip("torch")
    from smoothcli.methods.torch_forms import softplus_torch_spec

    spec = softplus_torch_spec(1e-6)
    got = spec.run("torch-form", (np.array([1.0], dtype=np.float16),)).value
    want = torch.nn.functional.softplus(torch.tensor([1.0], dtype=torch.float16), beta=1e-6)
    assert got.dtype == np.float16 and np.isinf(got[0]) and torch.isinf(want).all()


def test_saturating_rounding():
    from smoothcli.core.formats import FORMATS
    from smoothcli.core.rounding import round_fraction

    e4 = FORMATS["float8_e4m3fn"]
    f16 = FORMATS["float16"]
    assert round_fraction(Fraction(10 ** 6), e4, saturate=True) == 448.0
    assert round_fraction(Fraction(447), e4, saturate=True) == 448.0  # ordinary rounding
    assert round_fraction(Fraction(-70000), f16, saturate=True) == -65504.0
    assert round_fraction(Fraction(-70000), f16) == -math.inf
