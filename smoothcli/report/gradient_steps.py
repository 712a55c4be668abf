"""The backward step that lost a gradient, in words: what the reasons of ``smooth grad`` say
for the autodiff forms of :mod:`smoothcli.methods.gradients` before their generic account.

Each function reads the intermediates a gradient method recorded at one point (its
``PointTrace``: the exponential and the named steps, e.g. ``σ`` and ``1 − σ``) and returns a
sentence, or None when nothing it knows went wrong there."""

from __future__ import annotations

import math
from typing import Any


def explain(function: str, method: str, trace: Any, fmt: Any) -> str | None:
    """What went wrong at the one point of ``trace`` (method ``method`` of ``function``, in
    ``fmt``), or None."""
    rule = STEPS.get(function, {}).get(method)
    if rule is None:
        return None
    st = {k: float(v[0]) for k, v in trace.steps.items()}
    return rule(float(trace.exp[0]), st, float(trace.value[0]), fmt)


def _num(v: Any, digits: int = 5) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return format(v, f".{digits}g")


def _no_inf(name: str, e: float, fmt: Any) -> str | None:
    """The account of an exponential that overflowed to NaN in a format without inf."""
    if math.isnan(e) and not fmt.has_inf:
        return (f"{name} overflows to NaN in {fmt.name} (a format without inf), and every "
                "backward step after it is NaN")
    return None


def _sigmoid_naive_why(e: float, st: dict, v: float, fmt: Any) -> str | None:
    s, c = st["σ"], st["1 − σ"]
    if math.isnan(e) and not fmt.has_inf:
        return _no_inf("e^(−x)", e, fmt)
    if math.isinf(e) or (s == 0 and v == 0):
        return (f"e^(−x) = {_num(e)} in {fmt.name}, so σ(x) = 1/(1 + e^(−x)) = {_num(s)} and "
                f"σ·(1 − σ) = {_num(v)}")
    if s == 1:
        return (f"σ(x) = 1/(1 + e^(−x)) rounds to 1 in {fmt.name} (e^(−x) = {_num(e, 3)} is "
                f"below half an ULP of 1), so 1 − σ(x) = 0 and σ·(1 − σ) = 0")
    if s > 0.5:
        return (f"1 − σ(x) = 1 − {_num(s, fmt.max_digits10)} = {_num(c, 3)} cancels: σ(x) "
                f"next to 1 was rounded to a multiple of {fmt.name}'s ULP there, a large part "
                "of 1 − σ(x)")
    return None


def _softplus_naive_why(e: float, st: dict, v: float, fmt: Any) -> str | None:
    if math.isnan(e):
        return _no_inf("e^x", e, fmt)
    if math.isinf(e):
        return (f"e^x = {_num(e)} in {fmt.name}, so log's backward 1/(1 + e^x) = "
                f"{_num(st['1/(1 + e)'])} and exp's backward gives 0·inf = NaN")
    return None


def _log_sigmoid_naive_why(e: float, st: dict, v: float, fmt: Any) -> str | None:
    s, s2 = st["σ"], st["σ²"]
    if math.isnan(e):
        return _no_inf("e^(−x)", e, fmt)
    if math.isinf(e):
        return (f"e^(−x) = {_num(e)} in {fmt.name}: σ = 1/(1 + e^(−x)) = {_num(s)}, log's "
                f"backward 1/σ = {_num(st['1/σ'])} and the reciprocal's backward −σ² = "
                f"{_num(-s2)}: inf·0 = NaN")
    if s > 0 and s2 == 0:
        return (f"σ(x) = {_num(s, 3)}, so σ² underflows to 0 in {fmt.name}: the reciprocal's "
                f"backward −(1/σ)·σ² is 0 and so is the gradient")
    if 0 < s2 < float(fmt.smallest_normal):
        return (f"σ² = {_num(s2, 3)} is subnormal in {fmt.name}: the reciprocal's backward "
                f"−(1/σ)·σ² keeps few bits")
    return None


def _abs_naive_why(e: float, st: dict, v: float, fmt: Any) -> str | None:
    g = st["∂ of the log term"]
    if math.isnan(e):
        return _no_inf("e^(kx)", e, fmt)
    if math.isinf(e):
        return (f"e^(kx) = {_num(e)} in {fmt.name}: (2/k)/(1 + e^(kx)) = 0 and exp's backward "
                "gives 0·inf = NaN")
    if v == 0:
        return (f"the log term's gradient 2e^(kx)/(1 + e^(kx)) rounds to 1 in {fmt.name}, and "
                "the −1 of the −x term cancels it to 0")
    if math.isfinite(v) and abs(v) < 0.5:
        return (f"the log term's gradient 2e^(kx)/(1 + e^(kx)) = {_num(g, fmt.max_digits10)} "
                f"≈ 1 and the −1 of the −x term cancel: its rounding error (up to half an ULP "
                f"of 1 in {fmt.name}) is a large part of tanh(kx/2)")
    return None


def _abs_cosh_why(e: float, st: dict, v: float, fmt: Any) -> str | None:
    if math.isnan(e):
        return _no_inf("cosh(kx/2)", e, fmt)
    if math.isinf(e):
        return (f"cosh(kx/2) = {_num(e)} and sinh(kx/2) = {_num(st['sinh'])} in {fmt.name}: "
                "log's backward (2/k)/cosh = 0 and cosh's backward gives 0·inf = NaN")
    return None


#: function -> method -> its rule
STEPS = {"sigmoid_grad": {"naive": _sigmoid_naive_why},
         "softplus_grad": {"naive": _softplus_naive_why},
         "log_sigmoid_grad": {"naive": _log_sigmoid_naive_why},
         "smooth_abs_grad": {"naive": _abs_naive_why, "cosh": _abs_cosh_why}}
