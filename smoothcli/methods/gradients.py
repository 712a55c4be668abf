"""Derivatives of the pointwise smooth functions, computed as automatic differentiation would.

Reverse-mode autodiff (torch.autograd, jax.grad) differentiates the *expression* a user wrote,
one backward step per forward operation, every step rounded to the dtype.  So each forward form
of :mod:`smoothcli.methods.sigmoid` and :mod:`smoothcli.methods.smooth_abs` has its own gradient
kernel here, which performs those backward steps in the same order (the rules are torch's
``tools/autograd/derivatives.yaml``; jax's are the same up to the rounding order):

    log(u):   g/u            log1p(u): g/(1 + u)     exp(u):  g·exp(u) (the forward result)
    1/u:      −g·(1/u)²      −u:       −g            |u|:     g·sign(u) (torch: 0 at u = 0)
    k·u:      g·k            u/2:      g/2           cosh(u): g·sinh(u)
    max(u, 0): g where u > 0, g/2 at u = 0 (torch.maximum and jnp.maximum split ties evenly)
    sigmoid:  g·(1 − σ)·σ    (torch's sigmoid_backward and jax's logistic rule, from σ)

With an upstream gradient of 1:

* ``sigmoid_grad`` — σ'(x) = σ(x)·σ(−x) = e^(−|x|)/(1 + e^(−|x|))²:
    naive   σ·(1 − σ) with the naive σ = 1/(1 + e^(−x)) (the framework's sigmoid backward).  For
            x > 0, σ rounds to 1 long before σ' is small: float64 σ(37.43) = 1, so σ' = 0 while
            the exact value is 5.5e-17 (jax#40385).  For x very negative e^(−x) overflows, σ = 0
            and σ' = 0.
    stable  σ(x)·σ(−x), each σ by the sign branch (exp only sees −|x|): no cancellation.
* ``softplus_grad`` — softplus'(x) = σ(x):
    naive   autograd of log(1 + e^x): (1/(1 + e^x))·e^x; e^x = inf gives 0·inf = NaN.
    stable  autograd of max(x, 0) + log1p(e^(−|x|)):
            H(x) + (1/(1 + e^(−|x|)))·e^(−|x|)·(−1)·sign(x), with H(0) = ½ (the tie split of
            max) and sign(0) = 0 (torch's abs): for x > 0, 1 − σ(−x); for x < 0, σ(x); at 0, ½.
            Other conventions give other values at x = 0 only: relu's gradient (0 at 0) with
            torch's abs gives 0; jnp.maximum (½) with jax's abs (gradient +1 at 0) gives 0;
            jax.nn.relu (0 at 0) with jax's abs gives −½.  The exact σ(0) is ½.
* ``log_sigmoid_grad`` — (log σ)'(x) = σ(−x):
    naive   autograd of log(1/(1 + e^(−x))): with σ = 1/(1 + e^(−x)), (((1/σ)·(−σ²))·e^(−x))·(−1).
            σ² underflows to 0 once σ is below the square root of half the smallest subnormal
            (float64: σ < 2^(−537.5), x < −372.6) and the gradient becomes 0; e^(−x) = inf
            (float64: x < −709.78) gives σ = 0, 1/σ = inf and inf·0 = NaN.
    stable  autograd of min(x, 0) − log1p(e^(−|x|)):
            (1 − H(x)) + (1/(1 + e^(−|x|)))·e^(−|x|)·sign(x) (same conventions; ½ at 0).
* ``smooth_abs_grad`` — f_k'(x) = tanh(kx/2) for f_k(x) = (2/k)·log cosh(kx/2), with c = 2/k
  and k·x rounded to the dtype as the forward forms do:
    naive   autograd of c·log(1 + e^(kx)) − x − c·log 2: ((c/(1 + e^(kx)))·e^(kx))·k − 1.  Near 0
            the result is ≈ 1 − 1 (cancellation); e^(kx) = inf gives 0·inf = NaN.
    cosh    autograd of c·log(cosh(kx/2)): (((c/cosh(kx/2))·sinh(kx/2))/2)·k; cosh = inf gives
            0·inf = NaN.
    tanh    numpy's tanh(kx/2): the derivative written directly.
    stable  sign(x)·(−expm1(−a))/(2 + expm1(−a)), a = k|x| (= tanh(a/2)): no overflow, no
            cancellation near 0.

The exact references are the analytic derivatives in mpmath inside the Ziv loop, each from a
form without cancellation (see the ``_*_at_prec`` functions).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

from smoothcli.methods.pointwise import Pointwise, PointTrace
from smoothcli.methods.sigmoid import _sigmoid_at_prec, sigmoid_stable, unit_step
from smoothcli.reference.exact import _add_exactly, converge, to_mpf


def _step(x, at_zero):
    """H(x) in the dtype of x: 1 for x > 0, 0 for x < 0, ``at_zero`` at 0 (½: the tie split of
    torch.maximum / jnp.maximum); the caller's NaN propagates through the other terms."""
    import numpy as np

    d = x.dtype.type
    return np.where(x > 0, d(1), np.where(x < 0, d(0), d(at_zero))).astype(x.dtype)


# --- σ'(x) -------------------------------------------------------------------------------------

def sigmoid_grad_naive(x) -> PointTrace:
    """σ·(1 − σ) with σ = 1/(1 + e^(−x)): the framework's sigmoid backward on the naive σ."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        d = one + e
        s = one / d
        c = one - s
        return PointTrace(s * c, e, {"1 + e": d, "σ": s, "1 − σ": c})


def sigmoid_grad_stable(x) -> PointTrace:
    """σ(x)·σ(−x), each σ sign-branched (exp only of −|x|)."""
    import numpy as np

    with np.errstate(all="ignore"):
        p = sigmoid_stable(x)
        m = sigmoid_stable(-x)
        return PointTrace((p.value * m.value).astype(x.dtype), p.exp,
                          {"σ(x)": p.value, "σ(−x)": m.value})


# --- softplus'(x) = σ(x) -------------------------------------------------------------------------

def softplus_grad_naive(x) -> PointTrace:
    """Autograd of log(1 + e^x): log's backward 1/(1 + e^x), times exp's backward e^x."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(x)
        d = one + e
        g = one / d
        return PointTrace(g * e, e, {"1 + e": d, "1/(1 + e)": g})


def _log1p_exp_grad(x):
    """Autograd of log1p(e^(−|x|)) with an upstream 1: ((1/(1 + e))·e)·(−1)·sign(x)."""
    import numpy as np

    one = x.dtype.type(1)
    e = np.exp(-np.abs(x))
    d = one + e
    g = (one / d) * e
    return -g * np.sign(x), e, d


def softplus_grad_stable(x) -> PointTrace:
    """Autograd of max(x, 0) + log1p(e^(−|x|)): H(x) (½ at 0) plus the log1p branch."""
    import numpy as np

    with np.errstate(all="ignore"):
        g, e, d = _log1p_exp_grad(x)
        return PointTrace((_step(x, 0.5) + g).astype(x.dtype), e, {"1 + e": d})


# --- (log σ)'(x) = σ(−x) -------------------------------------------------------------------------

def log_sigmoid_grad_naive(x) -> PointTrace:
    """Autograd of log(1/(1 + e^(−x))): log's backward 1/σ, the reciprocal's −(·)·σ², exp's
    ·e^(−x), the negation's −1."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        d = one + e
        s = one / d
        r = one / s
        s2 = s * s
        g = (-r * s2) * e
        return PointTrace(-g, e, {"1 + e": d, "σ": s, "1/σ": r, "σ²": s2})


def log_sigmoid_grad_stable(x) -> PointTrace:
    """Autograd of min(x, 0) − log1p(e^(−|x|)): 1 − H(x) (½ at 0) minus the log1p branch."""
    import numpy as np

    with np.errstate(all="ignore"):
        g, e, d = _log1p_exp_grad(x)
        h = _step(-x, 0.5)
        return PointTrace((h - g).astype(x.dtype), e, {"1 + e": d})


# --- f_k'(x) = tanh(kx/2) -----------------------------------------------------------------------

def abs_grad_naive(x, k) -> PointTrace:
    """Autograd of (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2: ((c/(1 + e^(kx)))·e^(kx))·k − 1."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        c = d(2) / k
        e = np.exp(k * x)
        s = d(1) + e
        g = (c / s) * e * k
        return PointTrace(g - d(1), e, {"1 + e": s, "∂ of the log term": g})


def abs_grad_cosh(x, k) -> PointTrace:
    """Autograd of (2/k)·log(cosh(kx/2)): (((c/cosh)·sinh)/2)·k."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        c = d(2) / k
        y = k * x / d(2)
        ch = np.cosh(y)
        sh = np.sinh(y)
        return PointTrace(((c / ch) * sh) / d(2) * k, ch, {"sinh": sh})


def abs_grad_tanh(x, k) -> PointTrace:
    """numpy's tanh(kx/2): the derivative written directly."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        y = k * x / d(2)
        return PointTrace(np.tanh(y), y, {})


def abs_grad_stable(x, k) -> PointTrace:
    """sign(x)·(−expm1(−a))/(2 + expm1(−a)) with a = k|x|: tanh(a/2) without overflow or
    cancellation."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        a = np.abs(k * x)
        em = np.expm1(-a)  # in [−1, 0]
        t = -em / (d(2) + em)
        return PointTrace((np.sign(x) * t).astype(x.dtype), em, {})


# --- exact references ----------------------------------------------------------------------------

def _neg(x):
    """−x exactly (floats and Fractions negate exactly; mpmath's unary minus would round)."""
    import mpmath

    if isinstance(x, (float, int, Fraction)):
        return -x
    return mpmath.fneg(x, exact=True)


def _sigmoid_grad_at_prec(x):
    """σ'(x) = σ(x)·σ(−x) = e^(−|x|)/(1 + e^(−|x|))²: positive terms only, no cancellation
    (σ(1 − σ) from a rounded σ would lose everything once σ ≈ 1)."""
    import mpmath

    v = to_mpf(x)
    if mpmath.isnan(v):
        return mpmath.mpf("nan")
    e = mpmath.exp(-abs(v))
    return e / (1 + e) ** 2


def _tanh_half_at_prec(x, k):
    """tanh(kx/2) with k·x/2 formed exactly.  For |y| ≤ 1 mpmath's tanh (relative accuracy,
    also near 0); beyond, 1 − 2e^(−2|y|)/(1 + e^(−2|y|)) with the subtraction exact
    (``_add_exactly``), so that a computed ±1 keeps its measurable error."""
    import mpmath

    xv, kv = to_mpf(x), to_mpf(k)
    if mpmath.isnan(xv):
        return mpmath.mpf("nan")
    y = mpmath.ldexp(mpmath.fmul(kv, xv, exact=True), -1)
    a = abs(y)
    if a <= 1:
        t = mpmath.tanh(a)
    else:
        e = mpmath.exp(-2 * a)
        t = _add_exactly(mpmath.mpf(1), -(2 * e / (1 + e)))
    return t if y >= 0 else mpmath.fneg(t, exact=True)


def sigmoid_grad_reference(x) -> Any:
    """The exact σ'(x)."""
    return converge(lambda: _sigmoid_grad_at_prec(x))


def softplus_grad_reference(x) -> Any:
    """The exact softplus'(x) = σ(x)."""
    return converge(lambda: _sigmoid_at_prec(x))


def log_sigmoid_grad_reference(x) -> Any:
    """The exact (log σ)'(x) = σ(−x)."""
    return converge(lambda: _sigmoid_at_prec(_neg(x)))


def smooth_abs_grad_reference(x, k) -> Any:
    """The exact f_k'(x) = tanh(kx/2)."""
    return converge(lambda: _tanh_half_at_prec(x, k))


# --- the derivatives of the hard functions -------------------------------------------------------

def step_derivative(x: float) -> float:
    """H'(x): 0 away from 0; no value at 0 (a jump), NaN."""
    return math.nan if math.isnan(x) or x == 0 else 0.0


def sign(x: float) -> float:
    """|x|' = sign(x), 0 at 0 (torch's abs gradient there)."""
    if math.isnan(x):
        return math.nan
    return 0.0 if x == 0 else math.copysign(1.0, x)


# --- the specs -----------------------------------------------------------------------------------

SIGMOID_GRAD_METHODS = {"naive": sigmoid_grad_naive, "stable": sigmoid_grad_stable}
SOFTPLUS_GRAD_METHODS = {"naive": softplus_grad_naive, "stable": softplus_grad_stable}
LOG_SIGMOID_GRAD_METHODS = {"naive": log_sigmoid_grad_naive, "stable": log_sigmoid_grad_stable}
SMOOTH_ABS_GRAD_METHODS = {"naive": abs_grad_naive, "cosh": abs_grad_cosh,
                           "tanh": abs_grad_tanh, "stable": abs_grad_stable}

SIGMOID_GRAD = Pointwise(
    "sigmoid_grad", "σ′(x) = σ(x)·σ(−x)", "H′(x)", SIGMOID_GRAD_METHODS,
    sigmoid_grad_reference, step_derivative,
    {"naive": "σ·(1 − σ) with σ = 1/(1 + e^(−x)) (the framework's sigmoid backward)",
     "stable": "σ(x)·σ(−x), each σ sign-branched"},
    {"naive": "e^(−x)", "stable": "e^(−|x|)"})

SOFTPLUS_GRAD = Pointwise(
    "softplus_grad", "softplus′(x) = σ(x)", "H(x)", SOFTPLUS_GRAD_METHODS,
    softplus_grad_reference, unit_step,
    {"naive": "autograd of log(1 + e^x): (1/(1 + e^x))·e^x",
     "stable": "autograd of max(x, 0) + log1p(e^(−|x|)): H(x) − sign(x)·e^(−|x|)/(1 + "
               "e^(−|x|)), H(0) = ½, sign(0) = 0"},
    {"naive": "e^x", "stable": "e^(−|x|)"})

LOG_SIGMOID_GRAD = Pointwise(
    "log_sigmoid_grad", "(log σ)′(x) = σ(−x)", "1 − H(x)", LOG_SIGMOID_GRAD_METHODS,
    log_sigmoid_grad_reference, lambda x: unit_step(-x),
    {"naive": "autograd of log(1/(1 + e^(−x))): −((1/σ)·(−σ²))·e^(−x)",
     "stable": "autograd of min(x, 0) − log1p(e^(−|x|)): 1 − H(x) + sign(x)·e^(−|x|)/(1 + "
               "e^(−|x|)), H(0) = ½, sign(0) = 0"},
    {"naive": "e^(−x)", "stable": "e^(−|x|)"})

SMOOTH_ABS_GRAD = Pointwise(
    "smooth_abs_grad", "f_k′(x) = tanh(kx/2)", "sign(x)", SMOOTH_ABS_GRAD_METHODS,
    smooth_abs_grad_reference, sign,
    {"naive": "autograd of (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2: "
              "(2/k)/(1 + e^(kx))·e^(kx)·k − 1",
     "cosh": "autograd of (2/k)·log cosh(kx/2): (2/k)/cosh(kx/2)·sinh(kx/2)/2·k",
     "tanh": "numpy's tanh(kx/2)",
     "stable": "sign(x)·(−expm1(−k|x|))/(2 + expm1(−k|x|))"},
    {"naive": "e^(kx)", "cosh": "cosh(kx/2)", "tanh": "kx/2", "stable": "expm1(−k|x|)"},
    param="k", advice_order=("stable", "tanh", "cosh", "naive"))

GRADIENTS: dict[str, Pointwise] = {g.name: g for g in (SIGMOID_GRAD, SOFTPLUS_GRAD,
                                                       LOG_SIGMOID_GRAD, SMOOTH_ABS_GRAD)}
