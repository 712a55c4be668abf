"""Stage 5 of the pipeline: how far a computed value is from the reference, and what went wrong.

Errors are computed with mpmath from the exact computed value (a float is a dyadic rational) and
the high-precision reference, so they are not themselves polluted by float64 rounding:

* abs_error = |value - ref|,  rel_error = abs_error / |ref|,
* ulp_error = abs_error / ulp(ref), ulp(ref) the spacing of the *target* dtype at ref
  (:meth:`smoothcli.core.formats.FloatFormat.ulp`).  A correctly rounded result has ulp_error <= 0.5.

Flags (see README, "The evaluation model"):

* overflow:  an intermediate (an exponential, the sum, the result) is ±inf although the exact
  value is finite;
* underflow: the computed sum of exponentials is zero or subnormal although the exact sum is not
  zero — the log then sees garbage; ``flushed`` counts the exp terms rounded to zero;
* nan: the result is NaN although the exact value is not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from smoothcli.core.formats import FloatFormat


@dataclass(frozen=True)
class Errors:
    abs_error: float
    rel_error: float
    ulp_error: float


def errors(value: float, ref: Any, fmt: FloatFormat) -> Errors:
    """abs/rel/ULP error of ``value`` against the mpf ``ref`` in the format ``fmt``."""
    import mpmath

    value = float(value)
    if mpmath.isnan(ref):
        return Errors(math.nan, math.nan, math.nan)
    if math.isnan(value):
        return Errors(math.nan, math.nan, math.nan)
    if mpmath.isinf(ref) or math.isinf(value):
        same = mpmath.isinf(ref) and value == float(ref)
        return Errors(0.0, 0.0, 0.0) if same else Errors(math.inf, math.inf, math.inf)
    with mpmath.workprec(max(ref.context.prec, 256) + 64):
        v = mpmath.mpf(value)
        if v and ref and abs(mpmath.mag(v) - mpmath.mag(ref)) > 8192:
            # exact subtraction would need |gap| bits (MemoryError for a ref of 1e-1.6e19); at
            # this gap |v - ref| is max(|v|, |ref|) to 2**-8192 relative, the same float
            diff = max(abs(v), abs(ref))
        else:
            diff = abs(mpmath.fsub(value, ref, exact=True))  # exact: both dyadic rationals
        rel = math.inf if ref == 0 and diff else (diff / abs(ref) if ref != 0 else 0.0)
        ulp_err = diff / mpmath.ldexp(1, ulp_exponent(ref, fmt))
        return Errors(float(diff), float(rel), float(ulp_err))


def ulp_exponent(ref: Any, fmt: FloatFormat) -> int:
    """k with ulp(ref) = 2**k in ``fmt``: k = max(floor(log2|ref|), emin) - p + 1."""
    if ref == 0:
        return fmt.emin - fmt.precision + 1
    man, exp = ref.man_exp
    e = exp + abs(int(man)).bit_length() - 1  # floor(log2|ref|) for a normalised mpf
    return max(e, fmt.emin) - fmt.precision + 1


@dataclass(frozen=True)
class Flags:
    overflow: bool
    underflow: bool
    nan: bool
    flushed: int  # exp terms of finite inputs computed as 0


def flags(x, terms, sumexp, value, ref_is_nan, ref_finite, fmt: FloatFormat) -> Flags:
    """Read the flags off one evaluation (x: the dtype inputs; terms/sumexp/value: as computed).

    ``ref_is_nan`` / ``ref_finite`` describe the exact result (for softmax: of every element)."""
    import numpy as np

    x64 = x.astype(np.float64)
    t64 = np.asarray(terms).astype(np.float64)
    v64 = np.asarray(value).astype(np.float64)
    s = float(sumexp)
    finite_in = np.isfinite(x64)
    has_nan_in = bool(np.isnan(x64).any())
    has_posinf_in = bool((x64 == np.inf).any())
    flushed = int(np.count_nonzero(t64[finite_in] == 0))
    if has_nan_in:  # the exact value is NaN: nothing can be flagged as going wrong
        return Flags(False, False, False, flushed)
    overflow = bool(np.isinf(t64[finite_in]).any())
    if not has_posinf_in:
        overflow |= math.isinf(s)
        # A result of ±inf from a nonzero sum is an overflow (m + log Σ beyond the dtype's max);
        # log(0) = -inf is the underflow's doing and is flagged as underflow, not overflow.
        if ref_finite and s != 0:
            overflow |= bool(np.isinf(v64).any())
    if not fmt.has_inf:
        # float8_e4m3fn has no infinity: an exp, sum or result that overflows is NaN
        # (ml_dtypes).  From finite inputs NaN arises no other way, except 0/0 of a flushed
        # sum, which is the underflow's doing.
        overflow |= bool(np.isnan(t64[finite_in]).any()) or math.isnan(s)
        if ref_finite and s != 0:
            overflow |= bool(np.isnan(v64).any())
    # The sum lives in the accumulation dtype (--acc): judge its underflow there.
    from smoothcli.core.formats import FORMATS

    sfmt = FORMATS.get(getattr(getattr(sumexp, "dtype", None), "name", ""), fmt)
    exact_sum_nonzero = bool((x64 > -np.inf).any())
    underflow = exact_sum_nonzero and not has_posinf_in and (
        s == 0 or abs(s) < float(sfmt.smallest_normal))
    nan = bool(np.isnan(v64).any()) and not ref_is_nan
    return Flags(bool(overflow), bool(underflow), nan, flushed)


def pointwise_flags(x: float, exps: Any, steps: Any, value: float, ref: Any,
                    fmt: FloatFormat) -> Flags:
    """The flags of one element of an elementwise function (sigmoid, softplus, smooth |x|...).

    ``x`` is the element's input in the dtype, ``exps`` the exponentials its method computed,
    ``steps`` its other intermediates (1 + e, cosh, ...), ``value`` the result and ``ref`` the
    exact result (an mpf).  Same three flags as :func:`flags`, read for one element:

    * overflow:  x and the exact result are finite but an intermediate or the result is ±inf
      (naive σ(−12) in float16: e^12 = inf, so 1/(1 + inf) = 0);
    * underflow: the result is 0 although the exact result rounds to a nonzero number of the
      dtype, or subnormal although it rounds to a normal one — a term that carried the result
      vanished (e^x flushed to 0, or 1 + e^x rounded to 1 before the log).  Not raised when the
      overflow already explains the loss;
    * nan: the result is NaN although the exact result is not.

    ``flushed`` counts the exponentials computed as 0 (informational: for x very negative that
    is the correct rounding)."""
    import mpmath

    from smoothcli.reference.exact import round_mpf

    def _floats(v):
        return [float(e) for e in (v if isinstance(v, (list, tuple)) else [v])]

    es, others, v = _floats(exps), _floats(steps), float(value)
    finite_x = math.isfinite(float(x))
    flushed = sum(1 for e in es if e == 0) if finite_x else 0
    if mpmath.isnan(ref) or math.isnan(float(x)):
        return Flags(False, False, False, flushed)
    nan = math.isnan(v)
    ref_finite = bool(mpmath.isfinite(ref))
    # Without infinities (float8_e4m3fn) an overflowing operation gives NaN instead of inf.
    big = math.isinf if fmt.has_inf else (lambda t: math.isinf(t) or math.isnan(t))
    overflow = finite_x and ref_finite and (any(big(e) for e in es + others) or big(v))
    underflow = False
    if ref_finite and not overflow and not nan and math.isfinite(v):
        r = abs(round_mpf(ref, fmt))
        tiny = float(fmt.smallest_normal)
        underflow = (v == 0 and r != 0) or (0 < abs(v) < tiny <= r)
    return Flags(bool(overflow), bool(underflow), bool(nan), flushed)
