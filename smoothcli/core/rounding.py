"""Stage 2 of the pipeline: round exact values to a floating-point format, once and correctly.

Why by hand: numpy converts decimal strings and Python floats to float16/float32 *through float64*,
which double-rounds (a value just above a float16 midpoint can land exactly on a float64 midpoint
and then round the wrong way), and it offers no directed roundings.  The rules here are IEEE 754
§4.3 / §7.4 applied to exact rationals: round to nearest, ties to even, with gradual underflow
(subnormals) and overflow to ±inf — or to NaN for formats without infinities, as ml_dtypes does for
float8_e4m3fn.  The result is returned as a Python float, which holds every value of every format
here exactly (none is wider than float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from smoothcli.core.formats import FloatFormat, floor_log2
from smoothcli.core.numbers import Number

NEAREST, DOWN, UP = "nearest", "down", "up"


def round_fraction(q: Fraction, fmt: FloatFormat, mode: str = NEAREST, negative: bool = False,
                   saturate: bool = False) -> float:
    """Round the exact rational ``q`` to ``fmt``.

    ``mode`` is round-to-nearest-even (default), toward -inf (``down``) or toward +inf (``up``).
    ``negative`` gives the sign of a zero result when ``q`` is zero (typed ``-0``).
    ``saturate``: a finite value that overflows becomes ±max_finite instead of ±inf (or NaN),
    as ONNX's Cast to float8 with saturate=1 does (ml_dtypes' casts do not: jax-ml/ml_dtypes#260).
    """
    if q == 0:
        return -0.0 if negative else 0.0
    sign = -1 if q < 0 else 1
    a = abs(q)
    e = max(floor_log2(a), fmt.emin)
    # Scale so that the significand is an integer of at most p bits: a * 2**shift.
    shift = fmt.precision - 1 - e
    num, den = (a.numerator << shift, a.denominator) if shift >= 0 else (
        a.numerator, a.denominator << -shift)
    m, r = divmod(num, den)
    if r:
        if mode == NEAREST:
            if 2 * r > den or (2 * r == den and m & 1):
                m += 1
        elif (mode == UP and sign > 0) or (mode == DOWN and sign < 0):
            m += 1  # away from zero
    # m * 2**-shift is now the rounded magnitude (m may have carried into the next binade).
    if Fraction(m) * Fraction(2) ** -shift > fmt.max_finite:
        if saturate:
            return sign * float(fmt.max_finite)
        if mode == NEAREST or (mode == UP and sign > 0) or (mode == DOWN and sign < 0):
            return sign * math.inf if fmt.has_inf else math.nan
        return sign * float(fmt.max_finite)  # directed rounding toward zero stays finite
    return sign * math.ldexp(m, -shift)  # exact: m has at most p + 1 <= 54 bits


def round_number(x: Number, fmt: FloatFormat) -> float:
    """The value of ``x`` in ``fmt``: special values pass through, finite ones round once."""
    if x.exact is None:
        assert x.special is not None
        if math.isinf(x.special) and not fmt.has_inf:
            return math.nan
        return x.special
    return round_fraction(x.exact, fmt, NEAREST, negative=x.negative)


def round_numbers(xs: list[Number], fmt: FloatFormat):
    """The inputs rounded to ``fmt``, as a numpy array of that dtype (exact: no further rounding)."""
    import numpy as np

    return np.array([round_number(x, fmt) for x in xs], dtype=np.float64).astype(fmt.np)


def exact_decimal(x: float) -> str:
    """The exact decimal expansion of a float (every binary float is a finite decimal)."""
    if not math.isfinite(x):
        return repr(x)
    if x == 0:
        return "-0" if math.copysign(1, x) < 0 else "0"
    from decimal import Decimal

    d = Decimal(x)  # exact: Decimal(float) converts without rounding
    s = format(d, "f") if -30 < d.adjusted() < 30 else format(d, "e")
    return s


def round_to_odd_float32(x):
    """float64 values rounded to float32 *to odd*: exact values stay, inexact ones become the
    neighbour whose last significand bit is 1 (beyond float32's range: its largest finite value,
    whose last bit is 1).  Rounding that result to nearest in any format of at most 22 bits is a
    single correct rounding of x (Boldo & Melquiond, "Emulation of FMA and correctly rounded sums:
    proved algorithms using rounding to odd", IEEE TC 2008)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        y = x.astype(np.float32)
        inexact = (y.astype(np.float64) != x) & ~np.isnan(x)
        if not inexact.any():
            return y
        big = np.float32(np.finfo(np.float32).max)
        over = inexact & np.isinf(y)
        y[over] = np.copysign(big, x[over]).astype(np.float32)
        even = inexact & ~over & ((y.view(np.uint32) & 1) == 0)
        # the other neighbour of x: one step from y towards x
        toward = np.where(x[even] > y[even], np.inf, -np.inf).astype(np.float32)
        y[even] = np.nextafter(y[even], toward)
    return y


# --- a vector of values in one dtype (the points of `smooth sweep exp`) ------------------------

@dataclass
class RoundedInputs:
    """A point's inputs as they are in one dtype, each rounded once, correctly."""

    dtype: str
    values: list[float]
    changed: list[bool]  # rounding changed the typed value
    array: Any  # numpy array of the dtype
