"""Independent oracles for the tests: nothing here imports smoothcli.

The tests compare what ``smooth`` prints with values computed here by a *different route*:

* :func:`round_to` rounds an exact rational to a numpy dtype by collecting the representable
  neighbours of a first guess (walking with ``numpy.nextafter``), converting each to an exact
  ``Fraction`` and picking the nearest, ties to the one whose bit pattern ends in 0 (IEEE 754
  §4.3.1 roundTiesToEven: "the one with an even least significant digit").  Overflow follows
  §7.4: the value is rounded as if the exponent range were unbounded, so beyond the largest
  finite value the next candidate is 2**(emax+1) (even significand, stands for ±inf).
  smoothcli/core/rounding.py instead scales to an integer significand and uses divmod.
* :func:`float16_table` decodes all 31744 non-negative finite float16 bit patterns by hand
  (IEEE 754 binary16: 1 sign, 5 exponent, 10 fraction bits, bias 15): a second, exhaustive
  oracle.
* :func:`lse_exact` / :func:`softmax_exact`: the textbook formulas log(Σ exp x_i) and
  exp(x_i)/Σ exp(x_j), evaluated directly (no shift, no log1p) with mpmath at ``DPS`` decimal
  digits.  mpmath's exponent range is unbounded, so exp(710) is an ordinary number; 400 digits
  resolve LSE(710, 12) = 710 + exp(-698)(1 + ...) ≈ 710 + 7.3e-304 with ~90 digits to spare.
  Conventions of scipy.special.logsumexp: any nan → nan, any +inf → +inf, all -inf → -inf.
* :func:`ulp` — spacing of a dtype at a value, from ``numpy.finfo`` and ``mpmath.frexp``.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction

import mpmath
import numpy as np

DPS = 400  # decimal digits of every mpmath oracle computation


# --------------------------------------------------------------------------------------------
# dtype facts, from numpy.finfo (not from smoothcli.core.formats)

def facts(dtype) -> dict:
    """p (precision incl. implicit bit), emin, emax, max, tiny, smallest subnormal, eps."""
    fi = np.finfo(dtype)
    p = fi.nmant + 1
    return {"p": p, "emin": fi.minexp, "emax": fi.maxexp - 1,
            "max": Fraction(float(fi.max)), "tiny": Fraction(2) ** fi.minexp,
            "subnormal": Fraction(2) ** (fi.minexp - p + 1), "eps": Fraction(float(fi.eps))}


def _uint(dtype):
    return {2: np.uint16, 4: np.uint32, 8: np.uint64}[np.dtype(dtype).itemsize]


def _is_even(v, dtype) -> bool:
    """True when the least significant bit of v's encoding is 0 (even significand)."""
    arr = np.array([v], dtype=dtype)
    return int(arr.view(_uint(dtype))[0]) & 1 == 0


# --------------------------------------------------------------------------------------------
# rounding

def round_to(q, dtype, negative_zero: bool = False) -> float:
    """The exact rational ``q`` (Fraction, int or str decimal) rounded to nearest-even in dtype.

    Returned as a Python float (exact: every float16/32/64 value is a float64)."""
    q = Fraction(q) if not isinstance(q, Fraction) else q
    if q == 0:
        return -0.0 if negative_zero else 0.0
    if q < 0:
        return -round_to(-q, dtype)
    dt = np.dtype(dtype)
    f = facts(dt)
    virtual_inf = Fraction(2) ** (f["emax"] + 1)  # §7.4: the "unbounded exponent" successor
    try:
        guess = float(q)  # correctly rounded to float64 by Python (may be 0.0 or inf)
    except OverflowError:
        guess = math.inf
    with np.errstate(all="ignore"):
        start = np.array([guess], dtype=np.float64).astype(dt)[0]  # maybe off by double rounding
        cands = {start}
        lo = hi = start
        for _ in range(3):
            lo = np.nextafter(lo, dt.type(-np.inf))
            hi = np.nextafter(hi, dt.type(np.inf))
            cands.update((lo, hi))
    cands.add(dt.type(np.inf))  # always compare with the overflow candidate too
    best = None
    for c in cands:
        if np.isnan(c) or c < 0:
            continue
        val = virtual_inf if np.isinf(c) else Fraction(float(c))
        d = abs(val - q)
        key = (d, 0 if _is_even(c, dt) else 1)
        if best is None or key < best[0]:
            best = (key, c)
    assert best is not None
    return float(best[1])


def float16_table() -> list[Fraction]:
    """Every non-negative finite float16 value, ascending, decoded from its bits by hand."""
    out = []
    for bits in range(0x7C00):  # exponent field 31 is inf/nan
        e, frac = bits >> 10, bits & 0x3FF
        if e == 0:
            out.append(Fraction(frac, 2**24))  # subnormal: 0.f × 2**-14
        else:
            out.append(Fraction(1024 + frac) * Fraction(2) ** (e - 25))  # 1.f × 2**(e-15)
    return out


def round_float16_by_table(q: Fraction, table: list[Fraction]) -> float:
    """Nearest-even float16 by bisection in the exhaustive table (index parity = bit parity)."""
    import bisect

    if q < 0:
        return -round_float16_by_table(-q, table)
    top = Fraction(2) ** 16  # virtual successor of 65504 (= ±inf), bit pattern 0x7C00: even
    i = bisect.bisect_left(table, q)
    if i < len(table) and table[i] == q:
        return float(q)
    lo_i = i - 1
    lo = table[lo_i]
    hi_i, hi = (i, table[i]) if i < len(table) else (0x7C00, top)
    if q - lo < hi - q or (q - lo == hi - q and lo_i % 2 == 0):
        return float(lo)
    return math.inf if hi == top else float(hi)


def mid_above(x: Fraction, dtype) -> Fraction:
    """The midpoint between x (a positive value of dtype) and its successor."""
    dt = np.dtype(dtype)
    nxt = np.nextafter(dt.type(float(x)), dt.type(np.inf))
    return (x + Fraction(float(nxt))) / 2


# --------------------------------------------------------------------------------------------
# ULP

def ulp(x, dtype) -> Fraction:
    """Spacing of dtype in the binade of |x| (x an mpf or float): 2**(max(e, emin) - p + 1),
    e = floor(log2|x|) read off mpmath.frexp (mantissa in [0.5, 1)); ulp(0) = smallest
    subnormal."""
    f = facts(dtype)
    if x == 0:
        return f["subnormal"]
    with mpmath.workdps(DPS):
        _, e = mpmath.frexp(x if isinstance(x, mpmath.mpf) else mpmath.mpf(x))
    return Fraction(2) ** (max(int(e) - 1, f["emin"]) - f["p"] + 1)


def exact(x) -> Fraction:
    """A finite mpf or float as an exact Fraction (via mpmath's man/exp pair)."""
    if isinstance(x, float):
        return Fraction(x)
    # Read the raw (sign, mantissa, exponent, bitcount) tuple: mpf(x) would round x to the
    # current precision, and man_exp drops the sign.
    sign, man, e, _ = x._mpf_
    q = Fraction(int(man)) * Fraction(2) ** int(e) if man else Fraction(0)
    return -q if sign else q


def ulp_error(value: float, ref, dtype) -> float:
    """|value − ref| / ulp(ref) in dtype, exactly, as the nearest float."""
    return float(abs(Fraction(value) - exact(ref)) / ulp(ref, dtype))


# --------------------------------------------------------------------------------------------
# exact LSE and softmax

def mp(v):
    """An mpf for a float (exact), Fraction or decimal string (to DPS digits)."""
    if isinstance(v, Fraction):
        return mpmath.mpf(v.numerator) / v.denominator
    if isinstance(v, str):
        return mpmath.mpf(v)
    return mpmath.mpf(v)


def lse_exact(xs, dps: int = DPS):
    """log Σ exp(x_i), directly, to ``dps`` significant digits (scipy's inf/nan conventions).

    log(S) with S near 1 is only accurate to 10**-dps absolutely (LSE(0, -900) = 1.4e-391 would
    keep 9 digits), so a tiny result is recomputed with -log10|result| more digits."""
    with mpmath.workdps(dps):
        vs = [mp(v) for v in xs]
        if any(mpmath.isnan(v) for v in vs):
            return mpmath.mpf("nan")
        if any(v == mpmath.inf for v in vs):
            return mpmath.mpf("inf")
        finite = [v for v in vs if v != -mpmath.inf]
        if not finite:
            return mpmath.mpf("-inf")
        if len(finite) == 1:  # log(exp(x)) = x exactly (its decimal may be a 17-digit tie)
            return +finite[0]
        r = +mpmath.log(mpmath.fsum([mpmath.exp(v) for v in finite]))
        lost = 0 if r == 0 else -int(mpmath.floor(mpmath.log10(abs(r))))
    if r == 0 and len(finite) > 1 and dps < 40 * DPS:  # below 10**-dps: not known to be 0
        return lse_exact(xs, 2 * dps)
    if lost > 0 and dps < DPS + lost:
        return lse_exact(xs, DPS + lost + 20)
    return r


def softmax_exact(xs):
    """exp(x_i) / Σ exp(x_j) for finite xs, directly, at DPS digits."""
    with mpmath.workdps(DPS):
        e = [mpmath.exp(mp(v)) for v in xs]
        s = mpmath.fsum(e)
        return [+(t / s) for t in e]


def exp_rounded(x: float, dtype) -> float:
    """exp(x) correctly rounded to dtype (exp(x) is irrational for x ≠ 0, Lindemann, so 400
    digits decide the rounding unless it lies within 1e-400 relative of a midpoint)."""
    with mpmath.workdps(DPS):
        return round_to(exact(mpmath.exp(mpmath.mpf(x))), dtype)


def nearest_float(x) -> float:
    """The float64 nearest to an mpf (via the exact rational: no double rounding in the
    subnormal range, unlike float(mpf))."""
    if mpmath.isnan(x):
        return math.nan
    if mpmath.isinf(x):
        return math.inf if x > 0 else -math.inf
    return round_to(exact(x), np.float64)


# --------------------------------------------------------------------------------------------
# strict JSON

def loads_strict(text: str):
    """json.loads that rejects the NaN / Infinity / -Infinity literals (RFC 8259 has none)."""
    def reject(name):
        raise ValueError(f"non-RFC-8259 literal {name} in JSON output")

    return json.loads(text, parse_constant=reject)


def num(v) -> float:
    """A JSON number or one of the strings "inf", "-inf", "nan", as a float."""
    if isinstance(v, str):
        assert v in ("inf", "-inf", "nan"), v
        return float(v)
    assert isinstance(v, (int, float)) and not isinstance(v, bool), v
    return float(v)


def expected_errors(value: float, ref, dtype) -> dict:
    """abs / rel / ULP error of ``value`` against the exact mpf ``ref`` (conventions: equal
    infinities are 0 error, a nan on either side is nan, otherwise inf against an infinity)."""
    if math.isnan(value) or mpmath.isnan(ref):
        return {"abs_error": math.nan, "rel_error": math.nan, "ulp_error": math.nan}
    if math.isinf(value) or mpmath.isinf(ref):
        same = mpmath.isinf(ref) and math.isinf(value) and (value > 0) == (ref > 0)
        e = 0.0 if same else math.inf
        return {"abs_error": e, "rel_error": e, "ulp_error": e}
    d = abs(Fraction(value) - exact(ref))
    rel = math.inf if (ref == 0 and d) else (0.0 if ref == 0 else float(d / abs(exact(ref))))
    return {"abs_error": float(d), "rel_error": rel, "ulp_error": float(d / ulp(ref, dtype))}


def close(got, want, rel: float = 1e-9) -> bool:
    """got (a JSON number or "inf"/"-inf"/"nan") equals want up to rel (nan == nan)."""
    g = num(got)
    if math.isnan(want):
        return math.isnan(g)
    if math.isinf(want) or want == 0:
        return g == want
    return math.isclose(g, want, rel_tol=rel, abs_tol=0.0)


def decimal_is_correct(text: str, ref, digits: int = 17) -> bool:
    """``text`` has at most ``digits`` significant digits and is within half a unit of the last
    of them from the exact mpf ``ref``."""
    from decimal import Decimal

    if mpmath.isnan(ref) or mpmath.isinf(ref):
        return text == ("nan" if mpmath.isnan(ref) else ("inf" if ref > 0 else "-inf"))
    d = Decimal(text)
    sig = d.normalize().as_tuple().digits
    if len(sig) > digits:
        return False
    q = exact(ref)
    if q == 0:
        return d == 0
    with mpmath.workdps(DPS):
        e10 = int(mpmath.floor(mpmath.log10(abs(mpmath.mpf(ref)))))
    half_unit = Fraction(10) ** (e10 - digits + 1) / 2
    return abs(Fraction(d) - q) <= half_unit


def simulate(xs: list[float], dtype, method: str, kind: str = "lse", order: str = "sequential",
             with_terms: bool = False):
    """The documented evaluation model, re-implemented element by element with numpy scalars:
    every operation on a value of dtype, sums strictly left to right (``sequential``) or, for
    ``pairwise``, exact (Fraction) then rounded once (numpy's pairwise float16 sum keeps float32
    partials: exact as long as they fit in 24 bits, which the callers make sure of)."""
    dt = np.dtype(dtype).type
    x = [dt(v) for v in xs]
    with np.errstate(all="ignore"):
        if method == "shifted":
            top = np.max(np.array(x, dtype=dtype))  # nan if any nan
            m = top if np.isfinite(top) else dt(0)  # scipy's rule: never inf - inf
            terms = [np.exp(dt(v - m)) for v in x]
        else:
            m = None
            terms = [np.exp(v) for v in x]
        if order == "sequential":
            s = dt(0)
            for t in terms:
                s = dt(s + t)
        else:
            s = dt(round_to(sum(Fraction(float(t)) for t in terms), dtype))
        if kind == "softmax":
            out = [float(dt(t / s)) for t in terms], float(s)
        else:
            v = np.log(s)
            out = float(dt(m + v) if m is not None else v), float(s)
    if with_terms:
        return (*out, [float(t) for t in terms])
    return out


def expected_flags(xs: list[float], dtype, method: str, kind: str = "lse",
                   order: str = "sequential") -> dict:
    """The flags of the issue for FINITE dtype inputs xs (so every exact value is finite):
    overflow = an exp term, the sum or the result is ±inf (a result of -inf from log(0) is the
    underflow's doing); underflow = the sum is 0 or subnormal although the exact sum is not;
    nan = a NaN result."""
    value, s, terms = simulate(xs, dtype, method, kind, order, with_terms=True)
    vals = value if isinstance(value, list) else [value]
    tiny = float(np.finfo(dtype).smallest_normal)
    return {"overflow": any(math.isinf(t) for t in terms) or math.isinf(s)
            or any(v == math.inf or (v == -math.inf and s != 0) for v in vals),
            "underflow": abs(s) < tiny,
            "nan": any(math.isnan(v) for v in vals)}
