"""Error measures beyond abs/rel/ULP: Herbie's bits of error, and the rounding error bounds of
Blanchard, Higham & Higham next to the measured error.

**bits** (Herbie, Panchekha et al., PLDI 2015): log2(1 + the number of representable values of
the dtype between the computed result and the correctly rounded exact result).  0 means correctly
rounded, 1 one value off, p+ a result with no correct bit.  The count is exact: every value of a
format is mapped to its position in the format's ordered encoding (:func:`ordinal`: 0 for ±0,
k for the k-th positive value, the largest finite value then +inf next), so the count is a
difference of two integers.  A NaN against a non-NaN costs the whole width of the format (8, 16,
32 or 64 bits), as Herbie scores an invalid output.

**bounds**: the leading-order terms of the error bounds of P. Blanchard, D. J. Higham and
N. J. Higham, "Accurately computing the log-sum-exp and softmax functions", IMA J. Numer. Anal.
41(4):2311-2330, 2021, doi:10.1093/imanum/draa038.  Theorem numbers are those of the paper's
sections 3 (basic formulas) and 4 (shifted formulas, Algorithm 4.1), as cited in the authors'
own test script (github.com/higham/logsumexp-softmax-tests, chop_test_softmax.m).  With u the
unit roundoff of the dtype, n the length, y = LSE(x) for the dtype-rounded inputs:

=========================  ========================================  =========================
method                     leading-order bound (units of u)          source
=========================  ========================================  =========================
LSE naive                  1 + (n + 1)/|y|                           Theorem 3.2
LSE shifted/log1p/online   |y + n − x_min| / |y|                     Theorem 4.2
softmax naive (divide)     n + 3                                     Theorem 3.3
softmax exp-lse            |y| + max_i |x_i − y| + n + 2              Theorem 3.4
softmax shifted/log1p/     n + 2 + 2(x_max − x_min)                  Theorem 4.3
online (divide)
softmax shifted-/log1p-/   1 + max_i |x_i − y| + |y + n − x_min|     Theorem 4.4
online-exp-lse
=========================  ========================================  =========================

Theorems 4.2-4.4 analyse Algorithm 4.1 (log1p); the plain shifted formula and the online
normaliser are held to the same bounds "by analogy" (the online recurrence adds up to two
roundings per change of the running max, which a tight analysis would charge).  The measured
error is in the unit the authors plot against these bounds: |ŷ − y|/(u·|y|) for LSE, and the
normwise max_i |ĝ_i − g_i| / (u·max_i g_i) for softmax.  The bounds are first order in u and
assume no overflow or underflow, so a row can exceed one because it overflowed (the flags say so),
because a higher-order term matters (float8: u = 1/16), or because the bound, as stated, does not
cover it — each a finding the row's ``exceeds_bound`` and ``bound_rule`` report.  One case is
not flagged: a correctly rounded result (0 bits) whose error is above a bound that is itself below
the final rounding error — Theorems 4.2 and 4.4 as stated have no term for the rounding of
a + log1p(s), so for x_min > n their bound drops below u (LSE(6, 6): 0.40u) and would flag
results no algorithm can improve; ``bound_rule`` says so instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from smoothcli.core.formats import FloatFormat


# ------------------------------------------------------------------------------------------
# bits of error


def ordinal(v: float, fmt: FloatFormat) -> int | None:
    """The position of the value ``v`` of ``fmt`` in the format's order (None for NaN).

    Positive values are numbered from 1 (the smallest subnormal) up; subnormals first, then
    each binade of 2**(p-1) values; +inf follows the largest finite value; negatives mirror.
    (For the IEEE-like formats this is the bit pattern read as sign and magnitude.)"""
    if math.isnan(v):
        return None
    a = float(fmt.max_finite) if math.isinf(v) else abs(v)
    k = _index(a, fmt) + (1 if math.isinf(v) else 0)
    return -k if v < 0 else k


def _index(a: float, fmt: FloatFormat) -> int:
    # Exact float arithmetic only: frexp and ldexp scale by powers of two (every value of every
    # format here is a float64, and none of these scalings leaves float64's range).
    if a == 0:
        return 0
    m, e = math.frexp(a)  # a = m·2**e, 0.5 <= m < 1, so floor(log2 a) = e − 1
    p = fmt.precision
    if e - 1 < fmt.emin:
        q = math.ldexp(a, p - 1 - fmt.emin)  # a / smallest_subnormal
        if not q.is_integer():
            raise ValueError(f"{a!r} is not a value of {fmt.name}")
        return int(q)
    sig = math.ldexp(m, p)  # the integer significand, in [2**(p-1), 2**p)
    if not sig.is_integer():
        raise ValueError(f"{a!r} is not a value of {fmt.name}")
    half = 1 << (p - 1)
    return (e - 1 - fmt.emin + 1) * half + int(sig) - half


def width(fmt: FloatFormat) -> int:
    """The format's width in bits (what a NaN against a number costs)."""
    return {"float8_e4m3fn": 8, "float8_e5m2": 8, "bfloat16": 16, "float16": 16,
            "float32": 32, "float64": 64}.get(fmt.name, fmt.precision + 11)


def to_format(v: float, fmt: FloatFormat) -> float:
    """``v`` rounded to ``fmt`` (a no-op for a value of the format; peers may return wider)."""
    from smoothcli.core.rounding import round_fraction

    if not math.isfinite(v):
        return v if (math.isnan(v) or fmt.has_inf) else math.nan
    return round_fraction(Fraction(v), fmt, negative=math.copysign(1.0, v) < 0)


def bits(value: float, ref: Any, fmt: FloatFormat) -> float:
    """Herbie's bits of error of ``value`` against the exact ``ref`` (an mpf) in ``fmt``.

    NaN when the exact value is NaN (nothing to measure, like the other errors)."""
    import mpmath

    from smoothcli.reference.exact import round_mpf

    if mpmath.isnan(ref):
        return math.nan
    if mpmath.isinf(ref):
        r = float(ref) if fmt.has_inf else math.nan
    else:
        r = round_mpf(ref, fmt)  # the correctly rounded exact result
    v = float(value)
    try:  # a value of the format (always, except a peer's wider result)
        a = ordinal(v, fmt) if (fmt.has_inf or not math.isinf(v)) else None
    except ValueError:
        a = ordinal(to_format(v, fmt), fmt)
    b = ordinal(r, fmt)
    if a is None or b is None:
        return 0.0 if a is None and b is None else float(width(fmt))
    return math.log2(1 + abs(a - b))


# ------------------------------------------------------------------------------------------
# Blanchard-Higham-Higham bounds

# (theorem, what it covers, by analogy?) per method; the peers compute the shifted formulas.
_LSE = {"naive": ("3.2", "basic LSE", False), "shifted": ("4.2", "shifted LSE", False),
        "log1p": ("4.2", "shifted LSE, Alg. 4.1", False),
        "online": ("4.2", "shifted LSE", True), "scipy": ("4.2", "shifted LSE", True),
        "torch": ("4.2", "shifted LSE", True)}
_SOFTMAX = {"naive": ("3.3", "basic softmax", False),
            "exp-lse": ("3.4", "division-free softmax", False),
            "shifted": ("4.3", "shifted softmax", False),
            "log1p": ("4.3", "shifted softmax, Alg. 4.1", False),
            "online": ("4.3", "shifted softmax", True),
            "shifted-exp-lse": ("4.4", "shifted division-free softmax", False),
            "log1p-exp-lse": ("4.4", "shifted division-free softmax, Alg. 4.1", False),
            "online-exp-lse": ("4.4", "shifted division-free softmax", True),
            "scipy": ("4.3", "shifted softmax", True), "torch": ("4.3", "shifted softmax", True)}
_FORMULA = {"3.2": "(1 + (n+1)/|y|)·u", "4.2": "(|y + n − x_min|/|y|)·u", "3.3": "(n + 3)·u",
            "3.4": "(|y| + max|x_i − y| + n + 2)·u", "4.3": "(n + 2 + 2(x_max − x_min))·u",
            "4.4": "(1 + max|x_i − y| + |y + n − x_min|)·u"}


def rule_text(kind: str, method: str) -> str:
    """'BHH Thm 4.2 (shifted LSE): (|y + n − x_min|/|y|)·u', or '' when no bound applies."""
    entry = (_LSE if kind == "lse" else _SOFTMAX).get(method)
    if entry is None:
        return ""
    thm, what, analogy = entry
    return (f"BHH Thm {thm} ({what}{', by analogy' if analogy else ''}): {_FORMULA[thm]}")


def _coefficients(thm: str, lo: Any, hi: Any, n: int, y: Any) -> Any:
    """The leading-order bound of theorem ``thm`` in units of u (see the module table) for
    rows with minima ``lo``, maxima ``hi`` and LSE ``y`` (arrays, one per row), n values each
    (the dtype-rounded inputs)."""
    import numpy as np

    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.maximum(np.abs(hi - y), np.abs(lo - y))  # max_i |x_i − y|, at an end
        with_y = np.abs(y + n - lo)
        if thm == "3.2":
            return np.where(y != 0, 1 + (n + 1) / np.abs(y), math.inf)
        if thm == "4.2":
            return np.where(y != 0, with_y / np.abs(y), math.inf)
    if thm == "3.3":
        return np.full(np.shape(y), n + 3.0)
    if thm == "3.4":
        return np.abs(y) + spread + n + 2
    if thm == "4.3":
        return n + 2 + 2 * (hi - lo)
    if thm == "4.4":
        return 1 + spread + with_y
    raise KeyError(thm)


@dataclass
class BoundChecks:
    """The bound checks of some rows, one entry per row."""

    bound: Any  # leading-order bound, in units of u (NaN: no bound applies)
    error_u: Any  # the measured error in the same unit and measure
    exceeds: Any  # bools
    rule: list  # which rule, and what happened


def check_lse_rows(method: str, xs: Any, lse: Any, lse_finite: Any, values: Any,
                   rel_errors: Any, fmt: FloatFormat, correctly_rounded: Any) -> BoundChecks:
    """The bound of each LSE row against its measured relative error |ŷ − y|/(u|y|): ``xs``
    the rows' inputs (2-D), the others one per row (``lse`` the exact LSE as floats,
    ``lse_finite`` whether it is finite)."""
    import numpy as np

    err_u = rel_errors / float(fmt.unit_roundoff)
    return _check_rows(_LSE, "lse", method, xs, lse, lse_finite, err_u, np.isnan(values),
                       correctly_rounded)


def check_softmax_rows(method: str, xs: Any, lse: Any, lse_finite: Any, top: Any,
                       worst_abs: Any, nan_out: Any, fmt: FloatFormat,
                       correctly_rounded: Any) -> BoundChecks:
    """The bound of each softmax row against max_i |ĝ_i − g_i| / (u·max_i g_i): ``xs`` the
    rows' inputs (2-D), the others one per row (``lse`` the exact LSE as floats, ``lse_finite``
    whether it is finite, ``top`` the largest exact softmax element, ``worst_abs`` the largest
    absolute error)."""
    import numpy as np

    u = float(fmt.unit_roundoff)
    finite = lse_finite & np.isfinite(top)
    with np.errstate(divide="ignore", invalid="ignore"):
        err_u = np.where(finite & np.isfinite(xs).all(axis=-1) & (top > 0),
                         worst_abs / (u * top), math.nan)
    return _check_rows(_SOFTMAX, "softmax", method, xs, lse, finite, err_u, nan_out,
                       correctly_rounded)


def _check_rows(table: dict, kind: str, method: str, xs: Any, y: Any, y_finite: Any,
                err_u: Any, nan_out: Any, correctly_rounded: Any) -> BoundChecks:
    """The bound of ``kind`` (lse | softmax) against the measured errors ``err_u`` of a block's
    rows; no bound where an input or the exact result is not finite."""
    import numpy as np

    rule = rule_text(kind, method)
    rows = xs.shape[0]
    if not rule:
        return BoundChecks(np.full(rows, math.nan), err_u, np.zeros(rows, dtype=bool),
                           ["no bound for this method"] * rows)
    out = BoundChecks(np.full(rows, math.nan), err_u, np.zeros(rows, dtype=bool),
                      [rule + " — n/a: non-finite input or result"] * rows)
    ok = np.flatnonzero(np.isfinite(xs).all(axis=-1) & y_finite)
    if ok.size:
        x = xs[ok] if ok.size < rows else xs
        got = _verdicts(table[method][0], x.min(axis=-1), x.max(axis=-1), xs.shape[-1], y[ok],
                        err_u[ok], nan_out[ok], rule, correctly_rounded[ok])
        out.bound[ok], out.exceeds[ok] = got.bound, got.exceeds
        for j, r in enumerate(ok):
            out.rule[r] = got.rule[j]
    return out


def _verdicts(thm: str, lo: Any, hi: Any, n: int, y: Any, err_u: Any, nan_out: Any,
              rule: str, correctly_rounded: Any) -> BoundChecks:
    """The bound of theorem ``thm`` against the measured errors of a block's rows."""
    import numpy as np

    b = _coefficients(thm, lo, hi, n, y)
    above = ~np.isnan(err_u) & (err_u > b)
    # No algorithm beats correct rounding, whose relative error reaches u: a bound below that
    # (Thm 4.2 / 4.4 as stated when x_min > n, e.g. LSE(6, 6): 0.40u) is the bound's omission
    # of the final rounding, not the method's failure.  Said, not flagged.
    note = above & correctly_rounded & ~nan_out
    exceeds = (nan_out | above) & ~note
    rules = [rule] * b.size
    for r in np.flatnonzero(note | exceeds):
        e, bb = float(err_u[r]), float(b[r])
        if note[r]:
            rules[r] = (f"{rule} — measured {e:.3g}·u > {bb:.3g}·u, but the result is correctly "
                        "rounded (0 bits): the stated bound is below the final rounding error; "
                        "not flagged")
        else:
            why = "the result is NaN" if nan_out[r] else f"measured {e:.3g}·u > bound {bb:.3g}·u"
            rules[r] = f"exceeds {rule} — {why}"
    return BoundChecks(b, err_u, exceeds, rules)


# ------------------------------------------------------------------------------------------
# bits of error of a whole vector at once


def cast_exact(values: Any, fmt: FloatFormat) -> Any:
    """float64 ``values`` rounded once, correctly, to ``fmt`` (a numpy array of that dtype).

    numpy rounds float64 to float16/float32 correctly; ml_dtypes goes through float32 and can
    round twice, so those formats are first rounded to odd in float32 (Boldo & Melquiond 2008:
    RN_p(RO_24(x)) = RN_p(x) for p + 2 <= 24)."""
    import numpy as np

    from smoothcli.core.formats import ML_DTYPES
    from smoothcli.core.rounding import round_to_odd_float32

    with np.errstate(over="ignore", invalid="ignore"):
        if fmt.name in ML_DTYPES:
            return round_to_odd_float32(values).astype(fmt.np)
        return np.asarray(values, dtype=np.float64).astype(fmt.np)


def ordinals(values: Any) -> Any:
    """:func:`ordinal` of every element of an array of a format's own dtype, as int64: the bit
    pattern read as sign and magnitude (IEEE 754 §3.4 orders the encodings that way: 0, the
    subnormals, the normals, then inf; float8_e4m3fn's largest pattern below NaN is 448)."""
    import numpy as np

    a = np.asarray(values)
    bits = a.view({1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[a.dtype.itemsize])
    sign = np.array(1, dtype=bits.dtype) << (8 * a.dtype.itemsize - 1)
    mag = (bits & ~sign).astype(np.int64) if a.dtype.itemsize < 8 else (
        (bits & ~sign).view(np.int64))
    return np.where((bits & sign) != 0, -mag, mag)


def element_bits(values: Any, ref_hi: Any, ref_lo: Any, ref_nan: Any, fmt: FloatFormat) -> Any:
    """Herbie's bits of error of every element (as :func:`bits`), vectorised.

    ``ref_hi + ref_lo`` is the exact reference (``ref_lo`` may be None), ``ref_nan`` marks the
    elements whose exact value is NaN.  The correctly rounded reference is fl(hi + lo) for
    float64 (the sum of two doubles is rounded once), else hi rounded to the format, corrected
    where hi sits exactly on one of the format's midpoints and lo decides the side."""
    import numpy as np

    shape = np.shape(values)  # one row, or a block of rows: element by element
    v = np.asarray(values).reshape(-1)
    if v.dtype != fmt.np:  # a peer's wider result: stored in the user's array of the dtype
        v = cast_exact(v.astype(np.float64), fmt)
    hi = np.asarray(ref_hi, dtype=np.float64).reshape(-1)
    if ref_lo is not None:
        ref_lo = np.asarray(ref_lo).reshape(-1)
    with np.errstate(all="ignore"):
        if fmt.precision >= 53:
            r = hi + ref_lo if ref_lo is not None else hi.copy()
            r = r.astype(fmt.np)
        else:
            r = cast_exact(hi, fmt)
            if ref_lo is not None:
                back = r.astype(np.float64)
                # hi on a midpoint of fmt: ties-to-even chose one side; lo says the other
                up = (hi > back) & (ref_lo > 0)
                down = (hi < back) & (ref_lo < 0)
                for mask, toward in ((up, np.inf), (down, -np.inf)):
                    idx = np.flatnonzero(mask)
                    if idx.size:
                        nxt = np.nextafter(r[idx], np.full(idx.size, toward, dtype=fmt.np))
                        mid = (back[idx] + nxt.astype(np.float64)) / 2  # exact in float64
                        on = hi[idx] == mid
                        r[idx[on]] = nxt[on]
        if not fmt.has_inf:
            r[np.isinf(hi)] = np.nan
    a, b = ordinals(v), ordinals(r)
    v_nan, r_nan = np.isnan(v.astype(np.float64)), np.isnan(r.astype(np.float64))
    out = np.log2(1.0 + np.abs(a - b).astype(np.float64))
    out[v_nan != r_nan] = float(width(fmt))
    out[v_nan & r_nan] = 0.0
    out[np.asarray(ref_nan, dtype=bool).reshape(-1)] = math.nan
    return out.reshape(shape)
