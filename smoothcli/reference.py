"""Stage 4 of the pipeline: the exact value, computed with mpmath until it is right.

The reference is the exact LSE / softmax of the inputs given (the dtype-rounded inputs, or the
decimal values as typed), never a float64 computation.  It is evaluated at a working precision P
and again at 2P, doubling P until the two agree to ``TARGET_BITS`` relative bits and round to the
same float64 and the same printed decimal (Ziv's strategy: two evaluations at different precisions
that agree are, short of a pathological coincidence, both right to the bits they share).
Cancellation (LSE close to 0, where m and log(Σ exp(x_i - m)) nearly cancel) is handled by the
loop itself: it simply needs more bits there.

Special values follow scipy.special.logsumexp: any nan gives nan; any +inf gives +inf; -inf terms
contribute exp(-inf) = 0, and all -inf gives -inf.  Softmax is defined as exp(x_i - LSE(x)) with
IEEE arithmetic on those values (so +inf inputs give nan, finite ones 0, when LSE is +inf).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, Callable, Sequence

#: Relative bits two evaluations must share: 96 bits ≈ 29 significant digits, enough to measure
#: a float64 ULP error to about 1e-12 ULP and to print 17 correct digits.
TARGET_BITS = 96
START_PREC = 128
MAX_PREC = 1 << 16
DIGITS = 17  # significant digits of the printed reference


class ReferenceDidNotConverge(RuntimeError):
    """The Ziv loop reached MAX_PREC without two evaluations agreeing (never seen in practice)."""


def to_mpf(v: Any):
    """An mpf holding ``v`` (float, Fraction or mpf) at the current working precision.

    Floats convert exactly (working precision is always >= 128 bits); a Fraction such as 1/10 is
    rounded at the working precision, which the Ziv loop raises as needed."""
    import mpmath

    if isinstance(v, Fraction):
        return mpmath.mpf(v.numerator) / v.denominator
    return mpmath.mpf(v)


def lse_at_prec(values: Sequence[Any]):
    """log(Σ exp(x_i)) at the current mpmath precision, shifted by the max (exactly as eq. (5))."""
    import mpmath

    xs = [to_mpf(v) for v in values]
    if any(mpmath.isnan(x) for x in xs):
        return mpmath.mpf("nan")
    if any(x == mpmath.inf for x in xs):
        return mpmath.mpf("inf")
    finite = [x for x in xs if x != -mpmath.inf]
    if not finite:
        return mpmath.mpf("-inf")
    k = max(range(len(finite)), key=lambda i: finite[i])
    m = finite[k]
    # LSE = m + log1p(Σ_{i≠k} exp(x_i - m)) (Blanchard, Higham & Higham 2021, Alg. 4.1): log1p
    # keeps the full relative accuracy of a tiny tail (LSE(710, 12) = 710 + 5e-304), and the
    # final addition is exact (no rounding), so the error of a computed value against this
    # reference is measured exactly instead of vanishing into the rounding of m + tail.
    tail = mpmath.fsum(mpmath.exp(x - m) for i, x in enumerate(finite) if i != k)
    return mpmath.fadd(m, mpmath.log1p(tail), exact=True)


def softmax_at_prec(values: Sequence[Any]):
    """exp(x_i - LSE(x)) for each i at the current precision (IEEE rules for inf/nan)."""
    import mpmath

    lse = lse_at_prec(values)
    out = []
    for v in values:
        x = to_mpf(v)
        d = x - lse if not (mpmath.isinf(x) and mpmath.isinf(lse) and x == lse) else mpmath.nan
        out.append(mpmath.mpf("nan") if mpmath.isnan(d) else mpmath.exp(d))
    return out


def _agree(a, b) -> bool:
    import mpmath

    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if mpmath.isinf(a) or mpmath.isinf(b) or a == 0 or b == 0:
        return a == b
    if abs(a - b) > abs(b) * mpmath.ldexp(1, -TARGET_BITS):
        return False
    return float(a) == float(b) and decimal_text(a) == decimal_text(b)


def converge(evaluate: Callable[[], Any]) -> Any:
    """Evaluate ``evaluate()`` (an mpf or a list of them) at rising precision until it is stable.

    Returns the last (highest-precision) result."""
    import mpmath

    prec = START_PREC
    with mpmath.workprec(prec):
        a = evaluate()
    while prec < MAX_PREC:
        prec *= 2
        with mpmath.workprec(prec):
            b = evaluate()
        pairs = zip(a, b) if isinstance(b, list) else [(a, b)]
        if all(_agree(x, y) for x, y in pairs):
            return b
        a = b
    raise ReferenceDidNotConverge(f"reference did not converge at {MAX_PREC} bits")


def lse_reference(values: Sequence[Any]):
    """The exact LSE of ``values`` (floats or Fractions), to TARGET_BITS."""
    return converge(lambda: lse_at_prec(values))


def softmax_reference(values: Sequence[Any]) -> list:
    """The exact softmax of ``values``, each element to TARGET_BITS."""
    return converge(lambda: softmax_at_prec(values))


def decimal_text(x: Any, digits: int = DIGITS) -> str:
    """``x`` (an mpf) correctly rounded to ``digits`` significant decimal digits."""
    import mpmath

    if mpmath.isnan(x):
        return "nan"
    if mpmath.isinf(x):
        return "inf" if x > 0 else "-inf"
    return mpmath.nstr(x, digits, min_fixed=-4, max_fixed=digits)


def to_float(x: Any) -> float:
    """The float64 nearest to ``x`` (mpmath rounds to nearest)."""
    return float(x)


def exact_fraction(x: Any) -> Fraction:
    """A finite mpf as an exact Fraction (every mpf is a dyadic rational)."""
    sign, man, exp, _ = x._mpf_  # mpmath's raw (sign, mantissa, exponent, bitcount) tuple
    q = Fraction(man) * Fraction(2) ** exp
    return -q if sign else q


def is_special(x: Any) -> bool:
    import mpmath

    return bool(mpmath.isnan(x) or mpmath.isinf(x))


def as_float_list(values: Sequence[Any]) -> list[float]:
    return [float(v) if not isinstance(v, Fraction) else float(v) for v in values]


__all__ = ["lse_reference", "softmax_reference", "decimal_text", "converge", "math"]
