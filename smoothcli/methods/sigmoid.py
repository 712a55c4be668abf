"""Stage 3 and 4 for the logistic family: sigmoid, softplus and log-sigmoid, naive and stable.

The seed's eq. (7): σ(x) = 1/(1 + e^(−x)) is the smooth stand-in for the unit step H(x) of
eq. (6) (0 for x < 0, ½ at 0, 1 for x > 0).  Its integral softplus(x) = log(1 + e^x) is the smooth
max(x, 0), and log σ(x) = −softplus(−x) the smooth min(x, 0).

Every method takes a 1-D numpy array already in the target dtype and works in that dtype, so
every intermediate is rounded to it (numpy evaluates float16 exp/log/log1p in float32 and rounds
once to float16).  It returns a :class:`PointTrace`: the results and the intermediates the flags
are read from (:func:`smoothcli.measure.errors.pointwise_flags`).

* ``naive``  evaluates the formula as written: e^(−x) overflows for large −x (float16: x < −11.09,
  float64: x < −709.78) and log(1 + e^x) rounds 1 + e^x to 1 long before e^x underflows.
* ``stable`` only ever exponentiates −|x| ≤ 0, so exp cannot overflow, and uses log1p:

    σ(x)          = 1/(1 + e^(−|x|))          for x ≥ 0,   e^(−|x|)/(1 + e^(−|x|))   for x < 0
    softplus(x)   = max(x, 0) + log1p(e^(−|x|))
    log σ(x)      = −softplus(−x) = min(x, 0) − log1p(e^(−|x|))

  (the branch on the sign of x is the standard one, e.g. Blanchard, Higham & Higham,
  IMA J. Numer. Anal. 41 (2021), §2, and scipy.special.expit / log_expit.)

Library API (the engine reads the functions through :mod:`smoothcli.methods.pointwise`)::

    FUNCTIONS["sigmoid"].methods["stable"](x)  -> PointTrace   # x: numpy array in the dtype
    SIGMOID_METHODS, SOFTPLUS_METHODS, LOG_SIGMOID_METHODS      # name -> method
    sigmoid_reference(x), softplus_reference(x), log_sigmoid_reference(x)  -> mpf, converged
    unit_step(x), relu(x), neg_relu(x)                          # the hard functions (floats)

``x`` given to a reference is a float (every dtype value is one exactly) or a Fraction.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from smoothcli.methods.pointwise import Pointwise, PointTrace
from smoothcli.reference.exact import _add_exactly, converge, to_mpf


# --- sigmoid -----------------------------------------------------------------------------------

def sigmoid_naive(x) -> PointTrace:
    """1/(1 + e^(−x)) as written (seed eq. 7)."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        d = one + e
        return PointTrace(one / d, e, {"1 + e": d})


def sigmoid_stable(x) -> PointTrace:
    """Branch on the sign: exp only sees −|x| ≤ 0, so it never overflows."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        d = one + e
        v = np.where(x >= 0, one / d, e / d)  # NaN fails x >= 0 and gives e/d = NaN: fine
        return PointTrace(v.astype(x.dtype), e, {"1 + e": d})


# --- softplus ----------------------------------------------------------------------------------

def softplus_naive(x) -> PointTrace:
    """log(1 + e^x) as written."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(x)
        d = one + e
        return PointTrace(np.log(d), e, {"1 + e": d})


def softplus_stable(x) -> PointTrace:
    """max(x, 0) + log1p(e^(−|x|))."""
    import numpy as np

    zero = x.dtype.type(0)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        return PointTrace(np.maximum(x, zero) + np.log1p(e), e, {})


# --- log-sigmoid -------------------------------------------------------------------------------

def log_sigmoid_naive(x) -> PointTrace:
    """log(1/(1 + e^(−x))): the log of the naive sigmoid."""
    import numpy as np

    one = x.dtype.type(1)
    with np.errstate(all="ignore"):
        e = np.exp(-x)
        d = one + e
        s = one / d
        return PointTrace(np.log(s), e, {"1 + e": d, "σ": s})


def log_sigmoid_stable(x) -> PointTrace:
    """−softplus(−x) = min(x, 0) − log1p(e^(−|x|))."""
    import numpy as np

    zero = x.dtype.type(0)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(x))
        return PointTrace(np.minimum(x, zero) - np.log1p(e), e, {})


Method = Callable[[Any], PointTrace]

SIGMOID_METHODS: dict[str, Method] = {"naive": sigmoid_naive, "stable": sigmoid_stable}
SOFTPLUS_METHODS: dict[str, Method] = {"naive": softplus_naive, "stable": softplus_stable}
LOG_SIGMOID_METHODS: dict[str, Method] = {"naive": log_sigmoid_naive,
                                          "stable": log_sigmoid_stable}
METHOD_NAMES = ("naive", "stable")


# --- exact references --------------------------------------------------------------------------

def _sigmoid_at_prec(x):
    """σ(x) at the working precision; exp(−|x|) ≤ 1 keeps both branches well conditioned.

    For x ≥ 0, σ(x) = 1 − σ(−x) with σ(−x) = e^(−x)/(1 + e^(−x)) computed to full relative
    accuracy and the subtraction from 1 done exactly (``_add_exactly``, as
    :func:`smoothcli.reference.exact.softmax_at_prec` does for 1 + expm1(d)).  Rounding
    1/(1 + e^(−710)) at the working precision gives exactly 1 below ~1030 bits, so the error of
    a float16 σ(710) = 1.0 (exactly e^(−710)/(1 + e^(−710)) ≈ 4.5e-309) would be measured as 0.
    Past EXACT_GAP_BITS (x ≳ 5678) the tail is rounded away: it is then far below any format's
    ULP at 1 and the ULP error it could show is 0.0 either way."""
    import mpmath

    v = to_mpf(x)
    if mpmath.isnan(v):
        return mpmath.mpf("nan")
    e = mpmath.exp(-abs(v))  # the argument −|v| is exact; mpmath's exp costs O(log |v|) here
    lower = e / (1 + e)  # σ(−|v|)
    return _add_exactly(mpmath.mpf(1), -lower) if v >= 0 else lower


def _softplus_at_prec(x):
    """softplus(x) = max(x, 0) + log1p(e^(−|x|)) (Blanchard, Higham & Higham 2021, §2).

    The addition is exact (no rounding), as in :func:`smoothcli.reference.exact.lse_at_prec`, so
    a tail of e^(−1000) next to 1000 is kept and the error of a computed 1000 is measured.  But
    only up to a gap of EXACT_GAP_BITS: the exact sum 1e16 + e^(−1e16) would need 1.4e16 bits
    (out of memory), and 727000 + e^(−727000) an exponent of −1049095 that no later stage can
    turn into a Fraction.  A tail that far below x is far below x's ULP in every format, so the
    rounded sum measures the same error (``_add_exactly``)."""
    import mpmath

    v = to_mpf(x)
    if mpmath.isnan(v):
        return mpmath.mpf("nan")
    if mpmath.isinf(v):
        return v if v > 0 else mpmath.mpf(0)
    tail = mpmath.log1p(mpmath.exp(-abs(v)))
    return _add_exactly(max(v, 0), tail)


def _log_sigmoid_at_prec(x):
    import mpmath

    v = to_mpf(x)
    if mpmath.isnan(v):
        return mpmath.mpf("nan")
    # mpmath's unary minus rounds to the working precision: it would drop the exact tail of
    # softplus(710) = 710 + e^(−710) again; fneg(exact=True) only flips the sign.
    return mpmath.fneg(_softplus_at_prec(mpmath.fneg(v, exact=True)), exact=True)


def sigmoid_reference(x) -> Any:
    """The exact σ(x) (an mpf right to the reference's 96 bits)."""
    return converge(lambda: _sigmoid_at_prec(x))


def softplus_reference(x) -> Any:
    """The exact softplus(x) = log(1 + e^x)."""
    return converge(lambda: _softplus_at_prec(x))


def log_sigmoid_reference(x) -> Any:
    """The exact log σ(x) = −softplus(−x)."""
    return converge(lambda: _log_sigmoid_at_prec(x))


# --- the hard functions ------------------------------------------------------------------------

def unit_step(x: float) -> float:
    """H(x) of the seed's eq. (6): 0 for x < 0, ½ at 0, 1 for x > 0 (NaN for NaN)."""
    if math.isnan(x):
        return math.nan
    return 0.0 if x < 0 else (0.5 if x == 0 else 1.0)


def relu(x: float) -> float:
    """max(x, 0): what softplus smooths."""
    return x if math.isnan(x) else max(x, 0.0)


def neg_relu(x: float) -> float:
    """min(x, 0) = −max(−x, 0): what log σ smooths."""
    return x if math.isnan(x) else min(x, 0.0)


#: What each method's ``PointTrace.exp`` holds, per function.
_EXP_SIGMOID = {"naive": "e^(−x)", "stable": "e^(−|x|)"}
_EXP_SOFTPLUS = {"naive": "e^x", "stable": "e^(−|x|)"}

FUNCTIONS: dict[str, Pointwise] = {
    "sigmoid": Pointwise(
        "sigmoid", "σ(x) = 1/(1 + e^(−x))", "H(x)", SIGMOID_METHODS, sigmoid_reference,
        unit_step, {"naive": "1/(1 + e^(−x))",
                    "stable": "1/(1 + e^(−x)) if x ≥ 0 else e^x/(1 + e^x)"}, _EXP_SIGMOID),
    "softplus": Pointwise(
        "softplus", "softplus(x) = log(1 + e^x)", "max(x, 0)", SOFTPLUS_METHODS,
        softplus_reference, relu, {"naive": "log(1 + e^x)",
                                   "stable": "max(x, 0) + log1p(e^(−|x|))"}, _EXP_SOFTPLUS),
    "log_sigmoid": Pointwise(
        "log_sigmoid", "log σ(x) = −softplus(−x)", "min(x, 0)", LOG_SIGMOID_METHODS,
        log_sigmoid_reference, neg_relu, {"naive": "log(1/(1 + e^(−x)))",
                                          "stable": "min(x, 0) − log1p(e^(−|x|))"},
        _EXP_SIGMOID),
}
