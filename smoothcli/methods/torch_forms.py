"""Pointwise functions as a framework spells them, with the framework's own parameters.

``softplus_torch``: ``torch.nn.functional.softplus(x, beta, threshold)``, which computes

    softplus(x; β) = x                          where β·x > threshold   (default 20)
                   = log1p(exp(β·x)) / β        elsewhere

(PyTorch's CPU kernel, aten/src/ATen/native/cpu/Activation.cpp).  For float16 and bfloat16 the
kernel widens x and β to float32 ("opmath"), evaluates in float32 and rounds the result once to
the dtype — with no range check, so a finite float32 result beyond float16's 65504 becomes +inf
(pytorch#187180: softplus(1.0, beta=1e-6) in float16 is inf; the exact value is 693147.7).  For
float32 and float64 it evaluates in the dtype.  Above the threshold it returns x itself, which in
float64 is far from correctly rounded just above it: at x = 20.40 the exact value is
x + 1.38e-9, 3.9e5 float64 ULPs from x.

Methods (same rows, references and verdicts as every pointwise function of the engine):

* ``torch-form`` — the form above with torch's opmath (float32 for narrow dtypes); exp and log1p
  are numpy's, so a float32 result can differ from torch's vectorised (Sleef) one by an ULP;
* ``stable`` — max(x, 0) + log1p(e^(−β|x|)) / β in the same opmath: no threshold, no overflow
  of the exponential, the tail kept where it matters.

The exact reference is log(1 + e^(β·x)) / β for the β given (a float64 value, as a Python
float is); torch's narrow kernels round β to float32 first, a relative change of at most 2^-24.

Library API::

    softplus_torch_spec(beta=1.0, threshold=20.0) -> Pointwise   # named softplus_torch[...]
    register(spec) -> name                                        # make it evaluable by name
    FUNCTIONS                                                     # {"softplus_torch": β=1, 20}
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from smoothcli.methods.pointwise import Pointwise, PointTrace

#: torch.nn.functional.softplus's defaults.
DEFAULT_BETA, DEFAULT_THRESHOLD = 1.0, 20.0


def _opmath(x):
    """(x in torch's opmath dtype, the dtype to round back to): float32 for narrow dtypes."""
    import numpy as np

    if x.dtype.itemsize < 4:
        return x.astype(np.float32), x.dtype
    return x, x.dtype


def _torch(beta: float, threshold: float):
    def softplus(x) -> PointTrace:
        import numpy as np

        w, back = _opmath(x)
        b, t = w.dtype.type(beta), w.dtype.type(threshold)
        with np.errstate(all="ignore"):
            y = w * b
            e = np.exp(y)
            v = np.where(y > t, w, np.log1p(e) / b)
            return PointTrace(v.astype(back), e.astype(np.float64), {})

    softplus.__doc__ = f"torch: x if βx > {threshold:g} else log1p(exp(βx))/β, β = {beta!r}"
    return softplus


def _stable(beta: float):
    def softplus(x) -> PointTrace:
        import numpy as np

        w, back = _opmath(x)
        b = w.dtype.type(beta)
        with np.errstate(all="ignore"):
            e = np.exp(-np.abs(w * b))
            v = np.maximum(w, w.dtype.type(0)) + np.log1p(e) / b
            return PointTrace(v.astype(back), e.astype(np.float64), {})

    softplus.__doc__ = f"stable: max(x, 0) + log1p(e^(−β|x|))/β, β = {beta!r}"
    return softplus


def _reference(beta: float):
    q = Fraction(beta)

    def reference(x) -> Any:
        import mpmath

        from smoothcli.methods.sigmoid import _softplus_at_prec
        from smoothcli.reference.exact import converge, to_mpf

        v = to_mpf(x)
        if mpmath.isnan(v) or mpmath.isinf(v):
            return converge(lambda: _softplus_at_prec(x))  # nan, +inf or 0 (β > 0)
        bx = Fraction(x) * q  # exact
        return converge(lambda: _softplus_at_prec(bx) / to_mpf(q))

    return reference


def _name(beta: float, threshold: float) -> str:
    if (beta, threshold) == (DEFAULT_BETA, DEFAULT_THRESHOLD):
        return "softplus_torch"
    return f"softplus_torch[beta={beta!r},threshold={threshold!r}]"


def softplus_torch_spec(beta: float = DEFAULT_BETA,
                        threshold: float = DEFAULT_THRESHOLD) -> Pointwise:
    """torch.nn.functional.softplus(x, beta, threshold) as a pointwise function of the engine."""
    from smoothcli.core.errors import InputError
    from smoothcli.methods.sigmoid import relu

    beta, threshold = float(beta), float(threshold)
    if not (beta > 0 and beta != float("inf")):
        raise InputError(f"beta must be finite and > 0, not {beta!r}")
    return Pointwise(
        _name(beta, threshold), f"torch softplus(x; β={beta:g}, threshold={threshold:g})",
        "max(x, 0)", {"torch-form": _torch(beta, threshold), "stable": _stable(beta)},
        _reference(beta), relu,
        {"torch-form": f"x if βx > {threshold:g} else log1p(e^(βx))/β (float32 opmath for "
                  "float16/bfloat16)",
         "stable": "max(x, 0) + log1p(e^(−β|x|))/β"},
        {"torch-form": "e^(βx)", "stable": "e^(−β|x|)"})


def register(spec: Pointwise) -> str:
    """Make ``spec`` evaluable by its name through the engine (Plan(kind=spec.name, ...))."""
    from smoothcli.methods.pointwise import _registry

    _registry().setdefault(spec.name, spec)
    return spec.name


SOFTPLUS_TORCH = softplus_torch_spec()
FUNCTIONS: dict[str, Pointwise] = {SOFTPLUS_TORCH.name: SOFTPLUS_TORCH}
