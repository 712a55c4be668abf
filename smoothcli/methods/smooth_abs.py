"""The smooth |x| of the seed's derivation, and the smooth max built from it.

Derivation (the seed, after Su Jianlin, kexue.fm/archives/3290).  Away from 0,
d|x|/dx = sign(x) = 2H(x) − 1 with H the unit step.  Put σ(kx) in place of H and integrate,
using ∫σ(kx) dx = (1/k)·log(1 + e^(kx)):

    f_k(x) = (2/k)·log(1 + e^(kx)) − x + C.

**The integration constant.**  This tool takes C = −(2/k)·log 2, the one that makes f_k(0) = 0
= |0| (at x = 0, (2/k)·log(1 + 1) = (2/k)·log 2).  Then, since (1 + e^(kx))²·e^(−kx) =
e^(kx) + 2 + e^(−kx) = 2 + 2·cosh(kx) = 4·cosh²(kx/2),

    f_k(x) = (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2 = (2/k)·log cosh(kx/2)
           = |x| − (2/k)·(log 2 − log1p(e^(−k|x|))),

so 0 ≤ |x| − f_k(x) < (2·log 2)/k: the gap is 0 at x = 0, grows with |x| and tends to
(2·log 2)/k; f_k → |x| uniformly as k → ∞.  The seed's own choice is C = 0,
g_k(x) = (2/k)·log(1 + e^(kx)) − x = f_k(x) + (2/k)·log 2 ≥ |x| (gap in (0, (2·log 2)/k]).

**The smooth max.**  max(x, y) = (x + y + |x − y|)/2.  With f_k for |·|:

    (x + y + f_k(x − y))/2 = y + (1/k)·log(1 + e^(k(x−y))) − (log 2)/k
                           = (1/k)·log(e^(kx) + e^(ky)) − (log 2)/k,

so the smooth max is the seed's eq. (2) (1/k)·log(e^(kx) + e^(ky)) up to the constant C/2 =
−(log 2)/k; with the seed's C = 0 it is eq. (2) exactly (k = 1: LogSumExp).

Methods for f_k (x a numpy array in the dtype, k a scalar of the dtype; every step rounded to it):

* ``naive``: (2/k)·log(1 + e^(kx)) − x − (2/k)·log 2 as derived: e^(kx) overflows for large kx
  (float16: kx > 11.09), and near 0 the three terms cancel;
* ``cosh``:  (2/k)·log(cosh(kx/2)), the closed form: cosh overflows for large k|x|/2, and near 0
  cosh rounds to 1 (log 1 = 0);
* ``stable``: with a = k|x|: for a ≥ 4, |x| − 2·(log 2 − log1p(e^(−a)))/k (exp only sees −a ≤ 0,
  and |x| dominates: the subtraction loses < 1 bit); for a < 4, 2·log1p(cosh(a/2) − 1)/k with
  cosh(a/2) − 1 = expm1(a/2)²/(2·(1 + expm1(a/2))) — no cancellation near 0, where f_k ≈ kx²/4.
  Dividing by k last keeps 2/k from overflowing when k is tiny.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from smoothcli.reference.exact import _add_exactly, converge, to_mpf
from smoothcli.methods.pointwise import Pointwise, PointTrace

#: a = k|x| below which the stable form uses the expm1 branch (see the module docstring).
SMALL = 4


def _ln2(dtype) -> Any:
    """log 2 correctly rounded to ``dtype`` (not through float64: no double rounding)."""
    return dtype.type(_ln2_float(dtype.name))


@lru_cache(maxsize=None)
def _ln2_float(name: str) -> float:
    import mpmath

    from smoothcli.core.formats import FORMATS
    from smoothcli.reference.exact import exact_fraction
    from smoothcli.core.rounding import round_fraction

    with mpmath.workprec(256):
        q = exact_fraction(mpmath.log(2))
    return round_fraction(q, FORMATS[name]) if name in FORMATS else float(q)


def abs_naive(x, k) -> PointTrace:
    """(2/k)·log(1 + e^(kx)) − x − (2/k)·log 2, as derived."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        c = d(2) / k
        e = np.exp(k * x)
        s = d(1) + e
        return PointTrace(c * np.log(s) - x - c * _ln2(x.dtype), e, {"1 + e": s})


def abs_cosh(x, k) -> PointTrace:
    """(2/k)·log(cosh(kx/2)), the closed form."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        ch = np.cosh(k * x / d(2))
        return PointTrace(d(2) / k * np.log(ch), ch, {})


def abs_stable(x, k) -> PointTrace:
    """Overflow-free and accurate everywhere: two branches on a = k|x| (module docstring)."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        a = np.abs(k * x)
        e = np.exp(-a)  # a ≥ 0: e ≤ 1
        large = np.abs(x) - d(2) * (_ln2(x.dtype) - np.log1p(e)) / k
        em = np.expm1(a / d(2))
        small = d(2) * np.log1p(em * em / (d(2) * (d(1) + em))) / k
        v = np.where(a < d(SMALL), small, large).astype(x.dtype)
        return PointTrace(v, e, {})


AbsMethod = Callable[[Any, Any], PointTrace]
SMOOTH_ABS_METHODS: dict[str, AbsMethod] = {"naive": abs_naive, "cosh": abs_cosh,
                                            "stable": abs_stable}
FORMS = {"naive": "(2/k)·log(1 + e^(kx)) − x − (2/k)·log 2",
         "cosh": "(2/k)·log cosh(kx/2)",
         "stable": "|x| − 2(log 2 − log1p(e^(−k|x|)))/k, or 2·log1p(cosh(k|x|/2) − 1)/k via "
                   "expm1 when k|x| < 4"}


def smooth_max_abs_form(x, y, k) -> PointTrace:
    """(x + y + f_k(x − y))/2 with the stable f_k: the seed's max(x, y) = (x + y + |x − y|)/2."""
    import numpy as np

    d = x.dtype.type
    with np.errstate(all="ignore"):
        f = abs_stable(x - y, k)
        return PointTrace((x + y + f.value) / d(2), f.exp, {})


def smooth_max_lse_form(x, y, k) -> PointTrace:
    """(1/k)·LSE(kx, ky) − (log 2)/k, LSE shifted (the seed's eq. (2) plus the constant)."""
    import numpy as np

    from smoothcli.core.accumulation import Accumulation
    from smoothcli.methods.lse import lse_shifted

    values, exps = [], []
    with np.errstate(all="ignore"):
        for xi, yi in zip(x, y):
            t = lse_shifted(np.array([k * xi, k * yi], dtype=x.dtype), Accumulation())
            values.append(t.value / k - _ln2(x.dtype) / k)
            exps.append(min(t.terms))  # the term that may underflow; the other is e^0 = 1
        return PointTrace(np.array(values, dtype=x.dtype), np.array(exps, dtype=x.dtype), {})


SMOOTH_MAX_METHODS: dict[str, Callable[[Any, Any, Any], PointTrace]] = {
    "abs_form": smooth_max_abs_form, "lse_form": smooth_max_lse_form}


# --- exact references --------------------------------------------------------------------------

def _abs_at_prec(x, k):
    """[f_k(x), |x| − f_k(x)] at the working precision, each from a well-conditioned form.

    With a = k|x| (a product of two floats, formed exactly):

    * a ≤ 2: f_k = (2/k)·log1p(2·sinh²(a/4)) has no cancellation near 0, where f_k ≈ kx²/4;
      the gap is |x| − f_k, subtracted exactly.  The other form of the gap,
      2·(log 2 − log1p(e^(−a)))/k, cancels catastrophically there: at x = 1e-200, k = 1 it is
      1e-200 but comes out as 0 at any working precision below ~660 bits.
    * a > 2: log cosh(y) = |y| − log 2 + log1p(e^(−2|y|)) gives the gap
      2·(log 2 − log1p(e^(−a)))/k (no cancellation: log1p(e^(−a)) < log1p(e^(−2)) < log(2)/5)
      and f_k = |x| − gap, subtracted exactly so that a float f_k(1e300) = 1e300 keeps its
      measurable error ≈ 2·log 2 (rounding |x| − gap to the working precision would swallow
      it).  mpmath's exp(−a) costs O(log a), not O(a), even for a = 1e20 or 3e38.

    The exact sums go through ``_add_exactly``, which rounds instead when the terms are more
    than EXACT_GAP_BITS apart in magnitude (the gap then lies far below |x|'s ULP)."""
    import mpmath

    xv, kv = to_mpf(x), to_mpf(k)
    ax = abs(xv)
    a = abs(mpmath.fmul(kv, xv, exact=True))
    if a <= 2:  # f_k = (2/k)·log1p(2·sinh²(kx/4)): no cancellation near 0
        f = 2 * mpmath.log1p(2 * mpmath.sinh(a / 4) ** 2) / kv
        gap = _add_exactly(ax, -f)
    else:
        gap = 2 * (mpmath.log(2) - mpmath.log1p(mpmath.exp(-a))) / kv
        f = _add_exactly(ax, -gap)
    return [f, gap]


def smooth_abs_reference(x, k) -> list:
    """The exact [f_k(x), |x| − f_k(x)] (mpfs) for a value ``x`` and sharpness ``k`` > 0."""
    return converge(lambda: _abs_at_prec(x, k))


def _max_at_prec(x, y, k):
    """[(x + y + f_k(x − y))/2, (1/k)·log(e^(kx) + e^(ky))] at the working precision.

    With m = max(x, y) and d = k|x − y| (formed exactly from the floats):
    (1/k)·LSE(kx, ky) = m + log1p(e^(−d))/k (Blanchard, Higham & Higham 2021, Alg. 4.1) and
    the smooth max = m + log((1 + e^(−d))/2)/k = m + log1p(expm1(−d)/2)/k, which does not cancel
    when x ≈ y.  Both additions to m are exact unless the tail lies more than EXACT_GAP_BITS
    below m (``_add_exactly``): the exact sum 1e10 + log1p(e^(−1e10)) would need 1.4e10 bits."""
    import mpmath

    xv, yv, kv = to_mpf(x), to_mpf(y), to_mpf(k)
    m = max(xv, yv)
    d = mpmath.fmul(kv, abs(mpmath.fsub(xv, yv, exact=True)), exact=True)
    seed = _add_exactly(m, mpmath.log1p(mpmath.exp(-d)) / kv)
    return [_add_exactly(m, mpmath.log1p(mpmath.expm1(-d) / 2) / kv), seed]


def smooth_max_reference(x, y, k) -> list:
    """The exact [smooth max with f_k, the seed's (1/k)·log(e^(kx) + e^(ky))]."""
    return converge(lambda: _max_at_prec(x, y, k))


SMOOTH_ABS = Pointwise(
    "smooth_abs", "f_k(x) = (2/k)·log cosh(kx/2)", "|x|", SMOOTH_ABS_METHODS,
    smooth_abs_reference, abs, FORMS,
    {"naive": "e^(kx)", "cosh": "cosh(kx/2)", "stable": "e^(−k|x|)"},
    param="k", advice_order=("stable", "cosh", "naive"))

SMOOTH_MAX2 = Pointwise(
    "smooth_max2", "(x + y + f_k(x − y))/2", "max(x, y)", SMOOTH_MAX_METHODS,
    smooth_max_reference, max,
    {"abs_form": "(x + y + f_k(x − y))/2 (stable f_k)",
     "lse_form": "(1/k)·LSE(kx, ky) − (log 2)/k (shifted LSE)"},
    {"abs_form": "e^(−k|x − y|)", "lse_form": "e^(−k|x − y|)"},
    arity=2, param="k", advice_order=("abs_form", "lse_form"))
