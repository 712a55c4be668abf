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
    return _add_exactly(m, mpmath.log1p(tail))


#: Beyond this gap in binary magnitude between the two terms, ``_add_exactly`` rounds.
EXACT_GAP_BITS = 8192


def _add_exactly(a, b):
    """a + b without rounding, unless b is more than EXACT_GAP_BITS below a.

    The exact sum of 710 and exp(-698) needs ~1100 bits and keeps a measurable error of
    1.5e-303 ULP; the exact sum of 3.7e19 and exp(-3.7e19) would need 5e19 bits (MemoryError).
    A term 2**-8192 below the other is far below any float's ULP at that value (2**-1074 at
    least), but its *sign* still matters: 1 − e^−6000 lies in the binade below 1, where float64's
    ULP is half as large, so rounding it to 1 would double the ULP error of a result computed as
    1 (softmax(6000, 0)).  Past the gap b is therefore replaced by a stand-in of its sign
    2**(EXACT_GAP_BITS + 8) below a, added exactly: the binade and the side of a are kept, and
    the sum moves by less than 2**-8192 relative."""
    import mpmath

    if a and b and mpmath.mag(a) - mpmath.mag(b) > EXACT_GAP_BITS:
        stand_in = mpmath.ldexp(mpmath.sign(b), int(mpmath.mag(a)) - EXACT_GAP_BITS - 8)
        return mpmath.fadd(a, stand_in, exact=True)
    return mpmath.fadd(a, b, exact=True)


def softmax_at_prec(values: Sequence[Any]):
    """exp(x_i - LSE(x)) for each i at the current precision (IEEE rules for inf/nan)."""
    import mpmath

    lse = lse_at_prec(values)
    out = []
    for v in values:
        x = to_mpf(v)
        d = x - lse if not (mpmath.isinf(x) and mpmath.isinf(lse) and x == lse) else mpmath.nan
        if mpmath.isnan(d):
            out.append(mpmath.mpf("nan"))
        elif abs(d) < 1:
            # 1 + expm1(d), added exactly: softmax(710, 0)[0] = 1 - 4.5e-309 would otherwise
            # round to 1 at any working precision below ~1030 bits, and its error (like the
            # LSE's, see lse_at_prec) would be measured as 0.
            out.append(_add_exactly(mpmath.mpf(1), mpmath.expm1(d)))
        else:
            out.append(mpmath.exp(d))
    return out


def _agree(a, b) -> bool:
    import mpmath

    if mpmath.isnan(a) or mpmath.isnan(b):
        return bool(mpmath.isnan(a) and mpmath.isnan(b))
    if mpmath.isinf(a) or mpmath.isinf(b) or a == 0 or b == 0:
        return a == b
    if abs(a - b) > abs(b) * mpmath.ldexp(1, -TARGET_BITS):
        return False
    if abs(mpmath.mag(b)) > 1 << 16:
        # far outside every format's range (e^-1e308 in a sweep over c·x): printing 17 digits
        # of 2**-1e308 costs milliseconds per evaluation, and 96 agreeing bits already fix them
        # unless the value sits on a decimal tie, which a transcendental result does not
        return float(a) == float(b)
    return float(a) == float(b) and _same_decimal(a, b)


def _same_decimal(a, b) -> bool:
    """decimal_text(a) == decimal_text(b) for a and b that agree to TARGET_BITS.

    Their difference is at most 2**-96 |b|: below 13 units of b's 30th significant digit.  The
    17-digit texts can only differ when a rounding tie of the 17th digit lies between them, so
    when b's digits 18 to 30 are more than 10**8 units from that tie (to_digits_exp's own
    error is a unit or so) the texts agree, without writing either."""
    from mpmath.libmp import to_digits_exp

    guard = 13
    digits = to_digits_exp(b._mpf_, DIGITS + guard)[1].ljust(DIGITS + guard, "0")
    if abs(int(digits[DIGITS:DIGITS + guard]) - 5 * 10 ** (guard - 1)) > 10 ** 8:
        return True
    return decimal_text(a) == decimal_text(b)


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
    # mpmath.nstr rounds twice (a ~76-bit decimal expansion truncated to a few guard digits,
    # then rounded): the LSE of (0, 100.47 in float32) is 100.470001220703125 + 2.3e-44 and
    # came out as ...0312, not ...0313.  Away from a tie (digits+1... not within 1e-5 units of
    # the last digit of 5000...) its single error of ~1e-6 units cannot matter; near one,
    # round the exact dyadic value instead, then let nstr lay out that 17-digit decimal.
    from mpmath.libmp import to_digits_exp

    guard = 13
    ds = to_digits_exp(x._mpf_, digits + guard)[1].ljust(digits + guard, "0")
    if not x or abs(int(ds[digits:digits + guard]) - 5 * 10 ** (guard - 1)) > 10**8:
        return mpmath.nstr(x, digits, min_fixed=-4, max_fixed=digits)
    from decimal import Decimal

    sign, man, exp, bc = x._mpf_  # x = (-1)**sign · man · 2**exp, man of bc bits
    with mpmath.workprec(64 + abs(exp).bit_length()):  # log10 of 2**-1e20 needs the bits
        k = int(mpmath.floor(mpmath.log10(abs(x)))) - digits + 1
    lo, hi = 10 ** (digits - 1), 10**digits
    if abs(exp) < 20000:  # exactly, with rationals: ties (x = 100.470001220703125) round even
        q = Fraction(man) * Fraction(2) ** exp
        while q / Fraction(10) ** k >= hi:  # the estimate of k may be one off near 10**j
            k += 1
        while q / Fraction(10) ** k < lo:
            k -= 1
        n = round(q / Fraction(10) ** k)  # Fraction rounds half to even, exactly
    else:  # exp(-3.7e19): 2**exp is no Fraction; no exact decimal tie is possible out here
        with mpmath.workprec(bc + 192):
            y = abs(x) * mpmath.power(10, -k)
            while y >= hi:
                k, y = k + 1, y / 10
            while y < lo:
                k, y = k - 1, y * 10
            n = int(mpmath.nint(y))
    if n == hi:
        n, k = lo, k + 1
    if abs(k) > 10**6:  # beyond decimal's exponent range: lay out by hand, as nstr would
        text, e = str(n), k + digits - 1
        return f"{'-' if sign else ''}{text[0]}.{text[1:].rstrip('0') or '0'}e{e:+d}"
    with mpmath.workprec(256):
        y = mpmath.mpf(str(Decimal((sign, tuple(map(int, str(n))), k))))
        return mpmath.nstr(y, digits, min_fixed=-4, max_fixed=digits)


def to_float(x: Any) -> float:
    """The float64 nearest to ``x``, rounded once: mpmath's float() rounds to 53 bits first and
    then again into the subnormal range (e^-708.52 / (1 + e^-708.52) came out one subnormal
    step off), so values below float64's normal range are rounded exactly instead."""
    import mpmath

    if not mpmath.isfinite(x) or not x or abs(x) >= mpmath.ldexp(1, -1022):
        return float(x)
    from smoothcli.core.formats import FORMATS

    return round_mpf(x, FORMATS["float64"])


def exact_fraction(x: Any) -> Fraction:
    """A finite mpf as an exact Fraction (every mpf is a dyadic rational).

    Refuses exponents beyond 2**±(1 << 20): 2**exp would not fit in memory (exp(-1e300) is an
    mpf, but no Fraction).  Use :func:`round_mpf` to round such a value to a dtype."""
    sign, man, exp, _ = x._mpf_  # mpmath's raw (sign, mantissa, exponent, bitcount) tuple
    if abs(exp) > 1 << 20:
        raise OverflowError(f"2**{exp} is too large for an exact Fraction")
    q = Fraction(man) * Fraction(2) ** exp
    return -q if sign else q


def round_mpf(x: Any, fmt: Any, mode: str = "nearest") -> float:
    """A finite mpf rounded to the format ``fmt`` (see rounding.round_fraction), at any magnitude.

    Far outside the format's range every value rounds alike, so it is first replaced by a
    stand-in of the same sign there: below 2**(emin - p - 4) (under half the smallest
    subnormal, so 0 to nearest) or above 2**(emax + 4) (beyond max + ulp/2, so an overflow)."""
    import mpmath

    from smoothcli.core.rounding import round_fraction

    if not x:
        return round_fraction(Fraction(0), fmt, mode, negative=bool(x._mpf_[0]))
    lo, hi = fmt.emin - fmt.precision - 4, fmt.emax + 4
    m = int(mpmath.mag(x))  # 2**(m-1) <= |x| < 2**m, give or take one
    if m < lo:
        x = mpmath.ldexp(mpmath.sign(x), lo - 1)
    elif m > hi + 1:
        x = mpmath.ldexp(mpmath.sign(x), hi)
    return round_fraction(exact_fraction(x), fmt, mode)


def is_special(x: Any) -> bool:
    import mpmath

    return bool(mpmath.isnan(x) or mpmath.isinf(x))


def as_float_list(values: Sequence[Any]) -> list[float]:
    return [float(v) if not isinstance(v, Fraction) else float(v) for v in values]


__all__ = ["lse_reference", "softmax_reference", "decimal_text", "converge", "math"]
