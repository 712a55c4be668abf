"""Stage 5 of the pipeline: how far a computed value is from the reference, and what went wrong.

Errors are computed with mpmath from the exact computed value (a float is a dyadic rational) and
the high-precision reference, so they are not themselves polluted by float64 rounding:

* abs_error = |value - ref|,  rel_error = abs_error / |ref|,
* ulp_error = abs_error / ulp(ref), ulp(ref) the spacing of the *target* dtype at ref
  (:meth:`smoothcli.core.formats.FloatFormat.ulp`).  A correctly rounded result has ulp_error <= 0.5.

Scalar results are measured exactly with mpmath (:func:`errors`); vector results (softmax)
element by element with numpy against the reference's (hi, lo) pair (:func:`element_errors`),
which is exact up to the final rounding of each error to float64.  The flags are
:mod:`smoothcli.measure.flags`'.
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


# --- vector results (softmax): every element against the reference's (hi, lo) pair ---------------

def ulp_scale(ref: Any, fmt: FloatFormat, ws: Any, tag: str):
    """k_i with ulp_fmt(y_i) = 2**-k_i, for the reference softmax y = hi + lo (exact binade:
    a hi that is a power of two with lo < 0 belongs to the binade below)."""
    import numpy as np

    hi, lo = ref.softmax_hi, ref.softmax_lo
    n = hi.shape  # one row, or a block of rows
    ex = ws.get("k_ex" + tag, np.int32, n)
    if ref.frexp is not None:  # fastref already split hi into mantissas and exponents
        mant = ref.frexp[0]
        np.subtract(ref.frexp[1], 1, out=ex)
    else:
        mant = ws.get("k_mant", np.float64, n)
        np.frexp(hi, out=(mant, ex))
        np.subtract(ex, 1, out=ex)  # floor(log2 |hi|)
    if lo is not None:
        ex -= ((mant == 0.5) & (lo < 0)).astype(np.int32)
    if ref.has_zero is None:
        ref.has_zero = bool((hi == 0).any())
    if ref.has_zero:
        ex[hi == 0] = fmt.emin
    np.maximum(ex, fmt.emin, out=ex)
    np.subtract(fmt.precision - 1, ex, out=ex)  # k = p - 1 - e
    return ex


def element_errors(value, ref: Any, x64, k, ws: Any, fmt: FloatFormat, v64=None):
    """Per-element (abs, ULP, rel) errors of a softmax row (or a block of rows, whose reference
    has no ``tiny`` elements) against the reference, as arrays (workspace buffers).  Same
    conventions as :func:`smoothcli.measure.errors`; rel is 1 for an
    element computed as 0 whose exact value is below 2**-1074 (stored as 0 in the reference),
    and inf if such an element is computed nonzero."""
    import numpy as np

    from smoothcli.reference.fast import TINY_SCALE

    n = value.shape
    diff = ws.get("k_diff", np.float64, n)
    ulp = ws.get("k_work", np.float64, n)
    rel = ws.get("k_rel", np.float64, n)
    if v64 is None:  # value widened to float64 (exact), unless the caller has it already
        v64 = value if value.dtype == np.float64 else ws.get("k_v64", np.float64, n)
        if v64 is not value:
            np.copyto(v64, value)
    tiny = ref.tiny  # elements below 2**-960, kept scaled by 2**1074 (exact, any target)
    if tiny is not None:  # the scaled copies: |v - y| * 2**TINY_SCALE, exactly
        idx, hs, ls = tiny
        ds = np.abs(np.ldexp(v64[idx], TINY_SCALE) - hs - ls)
        m_s, e_s = np.frexp(hs)
        e = e_s - 1 - ((m_s == 0.5) & (ls < 0)) - TINY_SCALE  # floor(log2 y)
        ulp_tiny = np.ldexp(ds, fmt.precision - 1 - np.maximum(e, fmt.emin) - TINY_SCALE)
        rel_tiny = ds / hs
    with np.errstate(all="ignore"):
        np.subtract(v64, ref.softmax_hi, out=diff)
        if ref.softmax_lo is not None:
            # |lo| <= 2**-53 |y| is below 2**-29 ULP of a 24-bit format, but an error far
            # below the ULP (1 − 1.4e-8 computed as 1 in float16) is measured exactly only
            # with it (the binade, which lo can decide, is ulp_scale's business)
            np.subtract(diff, ref.softmax_lo, out=diff)
        np.abs(diff, out=diff)
        if tiny is not None:
            diff[idx] = np.ldexp(ds, -TINY_SCALE)
        np.ldexp(diff, k, out=ulp)
        if tiny is not None:
            ulp[idx] = ulp_tiny
        np.divide(diff, ref.softmax_hi, out=rel)  # softmax references are >= 0
        if ref.has_zero:
            zero = ref.softmax_hi == 0
            exact_zero = zero & (x64 == -np.inf)  # exp(-inf) = 0 exactly: 0/0 counts as 0
            small = zero & ~exact_zero
            rel[exact_zero & (diff == 0)] = 0.0
            rel[small] = np.where(diff[small] == 0, 1.0, np.inf)
        if tiny is not None:
            rel[idx] = rel_tiny
    return diff, ulp, rel


def widened(value, ws: Any):
    """``value`` as float64 (exact), in a reused buffer unless it is float64 already."""
    import numpy as np

    if value.dtype == np.float64:
        return value
    v = ws.get("k_v64", np.float64, value.shape)
    np.copyto(v, value)
    return v


#: Vectors up to this many elements have their output sum computed exactly (math.fsum).
EXACT_SUM_MAX = 1 << 14


def output_sum(value, ws: Any, v64=None) -> tuple[float, float]:
    """(Σ of the computed outputs, |Σ − 1|), each rounded once from the exact value.

    ``|fsum − 1|`` would hide a float64 row whose outputs sum to 1 − 1.4e-17 (its fsum rounds
    to 1.0), so the deviation is summed with the −1 inside: fsum(v + [−1]) is the exact
    Σ v − 1 rounded once (Shewchuk's algorithm, exact partials).  Long vectors use the
    exact-high-part sum of :mod:`smoothcli.reference.fast` (exact for float16 outputs; within
    n²·2**-86 absolute otherwise, Higham ASNA (4.4)) instead of Python's fsum."""
    import mpmath
    import numpy as np

    from smoothcli.reference.fast import _G64, _split_sum

    v = widened(value, ws) if v64 is None else v64
    if v.ndim > 1:
        return _output_sums(value, ws, v)
    top = float(v.max())  # NaN propagates; softmax outputs t / s are never negative
    if not math.isfinite(top):
        total = float(np.sum(v))
        return total, (abs(total - 1.0) if not math.isnan(total) else math.nan)
    if v.size <= EXACT_SUM_MAX or top > 1:  # (the high-part grid assumes |v| <= 1)
        items = v.tolist()
        return math.fsum(items), abs(math.fsum(items + [-1.0]))
    if value.dtype == np.float16 and value.size <= 1 << 28:
        # float16 values in [0, 1] are multiples of 2**-24: any order of float64 additions of
        # at most 2**28 of them is exact (the sum needs at most 28 + 24 bits)
        total = float(np.sum(v))
        return total, abs(total - 1.0)
    H, L = _split_sum(v, _G64, ws, "k_sum")
    S = mpmath.fadd(H, L, exact=True)
    return float(S), float(abs(mpmath.fsub(S, 1, exact=True)))


def _output_sums(value, ws: Any, v) -> tuple[Any, Any]:
    """:func:`output_sum` of every row of a block (``v`` its float64 copy), as two arrays.

    Values of a format whose smallest subnormal is at least 2**-38 (float16, the float8
    formats), at most 1 and at most 2**14 of them, are multiples of 2**-38 whose sum needs at
    most 52 bits: numpy's float64 sum of such a row is exact in any order, and so is its
    difference from 1.  Other finite rows go through math.fsum; rows with inf or NaN, or too
    long for fsum, through the one-row function."""
    import numpy as np

    from smoothcli.core.formats import FORMATS

    rows, n = v.shape
    tops = v.max(axis=-1)
    fmt = FORMATS.get(value.dtype.name)
    grid = fmt is not None and fmt.emin - fmt.precision + 1 >= -38 and n <= 1 << 14
    totals, devs = np.empty(rows), np.empty(rows)
    if grid:
        exact = np.isfinite(tops) & (tops <= 1)
        totals[exact] = v[exact].sum(axis=-1)
        devs[exact] = np.abs(totals[exact] - 1.0)
    else:
        exact = np.zeros(rows, dtype=bool)
    fsum = np.isfinite(tops) & ~exact & (n <= EXACT_SUM_MAX)
    items = v[fsum].tolist()
    for r, row in zip(np.flatnonzero(fsum), items):
        totals[r] = math.fsum(row)
        row.append(-1.0)
        devs[r] = abs(math.fsum(row))
    for r in np.flatnonzero(~exact & ~fsum):
        totals[r], devs[r] = output_sum(value[r], ws, v[r])
    return totals, devs

