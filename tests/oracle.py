"""Independent oracles for the tests: nothing here imports smoothcli.

The tests compare what ``smooth`` prints with values computed here by a *different route*.
Its own checks (against numpy, ml_dtypes, Python's float() and hand-decoded tables) are in
tests/test_oracle.py.

* :data:`LAYOUT` — sign / exponent / fraction bits and bias of each format (IEEE 754
  binary16/32/64; bfloat16 = the top half of binary32; OCP FP8: E5M2 IEEE-like, E4M3FN with no
  infinity, its top exponent holding normal numbers up to 1.110b·2^8 = 448 and only 1.111b for
  NaN).  :func:`decode` gives the exact value of a bit pattern from the layout; :func:`facts`
  and :func:`all_values` are read off decoded bit patterns (not smoothcli.core.formats).
* :func:`round_to` rounds an exact value (Fraction, int, decimal string, float or mpf) to a
  format by collecting the representable neighbours of a first guess (walking with
  ``numpy.nextafter``), converting each to an exact ``Fraction`` and picking the nearest, ties to
  the one whose bit pattern ends in 0 (IEEE 754 §4.3.1 roundTiesToEven: "the one with an even
  least significant digit").  Overflow follows §7.4: the value is rounded as if the exponent
  range were unbounded, so beyond the largest finite value the next candidate is max + ulp(max)
  (2**(emax+1), an even significand, for the IEEE formats: ±inf; 480, odd, for E4M3FN: NaN).
  smoothcli/core/rounding.py instead scales to an integer significand and uses divmod.
* :func:`lse_exact` / :func:`softmax_exact`: the textbook formulas log(Σ exp x_i) and
  exp(x_i)/Σ exp(x_j), evaluated directly (no shift, no log1p) with mpmath at ``DPS`` decimal
  digits.  mpmath's exponent range is unbounded, so exp(710) is an ordinary number; 400 digits
  resolve LSE(710, 12) = 710 + exp(-698)(1 + ...) ≈ 710 + 7.3e-304 with ~90 digits to spare.
  Conventions of scipy.special.logsumexp: any nan → nan, any +inf → +inf, all -inf → -inf.
* :func:`ulp` — spacing of a format at a value, from :func:`facts` and ``mpmath.frexp``.
* :func:`ordinal` / :func:`herbie_bits` — a value's position in the format's order from its bit
  pattern (numpy / ml_dtypes ``view`` as an unsigned integer): sign-magnitude, so for a positive
  value the pattern *is* the position (IEEE 754 §3.4).
* :func:`simulate` (numpy scalars) and :class:`Model` (+, −, ×, ÷ exact, then rounded) — the
  documented evaluation model, re-implemented.

Parsing the tool's output (strict JSON, "inf"/"nan" strings, rows) is in conftest.py.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import mpmath
import numpy as np

DPS = 400  # decimal digits of every mpmath oracle computation


# --------------------------------------------------------------------------------------------
# formats, from their bit layouts (not from smoothcli.core.formats)

@dataclass(frozen=True)
class Layout:
    name: str
    exp_bits: int
    frac_bits: int
    bias: int
    has_inf: bool  # E4M3FN: no infinity, only exponent=all-ones & fraction=all-ones is NaN

    @property
    def p(self) -> int:
        return self.frac_bits + 1

    @property
    def width(self) -> int:
        return 1 + self.exp_bits + self.frac_bits


LAYOUT = {
    "float16": Layout("float16", 5, 10, 15, True),
    "float32": Layout("float32", 8, 23, 127, True),
    "float64": Layout("float64", 11, 52, 1023, True),
    "bfloat16": Layout("bfloat16", 8, 7, 127, True),
    "float8_e4m3fn": Layout("float8_e4m3fn", 4, 3, 7, False),
    "float8_e5m2": Layout("float8_e5m2", 5, 2, 15, True),
}
ML = ("bfloat16", "float8_e4m3fn", "float8_e5m2")
ALL = ("float16", "float32", "float64", "bfloat16", "float8_e4m3fn", "float8_e5m2")


def format_name(dtype) -> str:
    """The name of a format given by name, numpy dtype or scalar type (np.float16, ...)."""
    return dtype if isinstance(dtype, str) else np.dtype(dtype).name


def np_dtype(dtype):
    """The numpy dtype of a format (ml_dtypes for bfloat16 and the float8 formats)."""
    name = format_name(dtype)
    if name in ML:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def decode(bits: int, L: Layout):
    """The value of a non-negative bit pattern: an exact Fraction, or inf / nan as floats."""
    e = bits >> L.frac_bits
    f = bits & ((1 << L.frac_bits) - 1)
    top = (1 << L.exp_bits) - 1
    if L.has_inf and e == top:
        return math.inf if f == 0 else math.nan
    if not L.has_inf and e == top and f == (1 << L.frac_bits) - 1:
        return math.nan
    if e == 0:  # subnormal: 0.f × 2**(1 - bias)
        return Fraction(f) * Fraction(2) ** (1 - L.bias - L.frac_bits)
    return Fraction((1 << L.frac_bits) + f) * Fraction(2) ** (e - L.bias - L.frac_bits)


@lru_cache(maxsize=None)
def facts(dtype) -> dict:
    """p (precision incl. implicit bit), emin, emax, max, tiny (smallest normal), subnormal
    (smallest), eps, u (unit roundoff), has_inf, width, max_bits — exact Fractions decoded from
    bit patterns."""
    L = LAYOUT[format_name(dtype)]
    top = (1 << L.exp_bits) - 1
    max_bits = ((top - 1) << L.frac_bits | ((1 << L.frac_bits) - 1) if L.has_inf
                else (top << L.frac_bits) | ((1 << L.frac_bits) - 2))
    mx = decode(max_bits, L)
    return {"p": L.p, "emin": 1 - L.bias, "emax": (max_bits >> L.frac_bits) - L.bias,
            "max": mx, "max_bits": max_bits, "tiny": decode(1 << L.frac_bits, L),
            "subnormal": decode(1, L), "eps": Fraction(1, 2 ** L.frac_bits),
            "u": Fraction(1, 2 ** L.p), "has_inf": L.has_inf, "width": L.width}


def all_values(dtype) -> list[Fraction]:
    """Every non-negative finite value of a format, ascending (index = bit pattern; only for the
    8/16-bit ones)."""
    L = LAYOUT[format_name(dtype)]
    assert L.width <= 16
    out = []
    for b in range(1 << (L.width - 1)):
        v = decode(b, L)
        if isinstance(v, Fraction):
            out.append(v)
    return out


def neighbour_points(values: list[Fraction]) -> list[Fraction]:
    """For ascending values of a format: each value, each midpoint (an exact tie) and the points
    2**-40 of a gap either side of it; beyond the last value, the overflow midpoint, a hair either
    side of it, and three times the last value."""
    out = []
    for lo, hi in zip(values, values[1:]):
        mid = (lo + hi) / 2
        eps = (hi - lo) / 2**40
        out += [lo, mid, mid - eps, mid + eps]
    top, step = values[-1], values[-1] - values[-2]
    out += [top + step / 2, top + step / 2 - step / 2**40, top + step / 2 + step / 2**40, top * 3]
    return out


def value_bits(v: float, dtype) -> int:
    """The bit pattern of the value ``v`` of the format (numpy / ml_dtypes view)."""
    dt = np_dtype(dtype)
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    with np.errstate(all="ignore"):
        return int(np.array([v], dtype=np.float64).astype(dt).view(uint)[0])


def ordinal(v: float, dtype) -> int:
    """Position of the value ``v`` in the format's order, read off its bit pattern (IEEE 754
    §3.4: for one sign, consecutive values have consecutive bit patterns; the magnitude's pattern
    counts the values from +0, so +inf is one beyond +max)."""
    w = facts(dtype)["width"]
    b = value_bits(v, dtype)
    mag = b & ((1 << (w - 1)) - 1)
    return -mag if b >> (w - 1) else mag


def ordinal_distance(a: float, b: float, dtype) -> float:
    """How many values of the format apart two values are (inf for NaN against a number)."""
    if math.isnan(a) or math.isnan(b):
        return 0 if (math.isnan(a) and math.isnan(b)) else math.inf
    return abs(ordinal(a, dtype) - ordinal(b, dtype))


# --------------------------------------------------------------------------------------------
# exact values

def exact(x) -> Fraction:
    """A finite mpf, float, int or Fraction as an exact Fraction (mpf via its man/exp pair)."""
    if not isinstance(x, mpmath.mpf):
        return Fraction(x)
    # Read the raw (sign, mantissa, exponent, bitcount) tuple: mpf(x) would round x to the
    # current precision, and man_exp drops the sign.
    sign, man, e, _ = x._mpf_
    q = Fraction(int(man)) * Fraction(2) ** int(e) if man else Fraction(0)
    return -q if sign else q


def mp(v):
    """An mpf for a float (exact), Fraction or decimal string (to the working precision)."""
    if isinstance(v, Fraction):
        return mpmath.mpf(v.numerator) / v.denominator
    return mpmath.mpf(v)


# --------------------------------------------------------------------------------------------
# rounding

def round_to(q, dtype, negative_zero: bool = False) -> float:
    """``q`` (Fraction, int, decimal string, float or mpf; inf and nan too) rounded to nearest,
    ties to even, in the format ``dtype`` (a name or numpy dtype).

    Returned as a Python float (exact: every value of these formats is a float64); NaN for an
    overflow of E4M3FN, which has no infinity."""
    dt = np_dtype(dtype)
    f = facts(dtype)
    if isinstance(q, str) and q.strip().lower().lstrip("+-") in ("inf", "infinity", "nan"):
        q = float(q)
    if isinstance(q, mpmath.mpf) and not mpmath.isfinite(q):
        q = float(q)
    if isinstance(q, float) and not math.isfinite(q):
        return q if (math.isnan(q) or f["has_inf"]) else math.nan
    q = exact(q) if not isinstance(q, str) else Fraction(q)
    if q == 0:
        return -0.0 if negative_zero else 0.0
    if q < 0:
        return -round_to(-q, dtype)
    # §7.4: the successor of max with an unbounded exponent, standing for overflow
    virtual_top = f["max"] + Fraction(2) ** (f["emax"] - f["p"] + 1)
    top_even = (f["max_bits"] + 1) & 1 == 0
    overflow = math.inf if f["has_inf"] else math.nan
    try:
        guess = float(q)  # correctly rounded to float64 by Python (may be 0.0 or inf)
    except OverflowError:
        guess = math.inf
    big = dt.type(float(f["max"]))
    with np.errstate(all="ignore"):
        start = np.array([min(guess, float(f["max"]))], dtype=np.float64).astype(dt)[0]
        cands = {float(start)}
        lo = hi = start
        for _ in range(3):  # the cast may be off by double rounding (ml_dtypes: via float32)
            lo = np.nextafter(lo, -big)
            hi = np.nextafter(hi, big)
            cands.update((float(lo), float(hi)))
    best = None
    for c in sorted(cands) + [None]:  # None: the overflow candidate, always compared
        if c is None:
            val, even = virtual_top, top_even
        elif math.isnan(c) or c < 0 or math.isinf(c):
            continue
        else:
            val, even = Fraction(c), value_bits(c, dtype) & 1 == 0
        key = (abs(val - q), 0 if even else 1)
        if best is None or key < best[0]:
            best = (key, c)
    assert best is not None
    return overflow if best[1] is None else best[1]


def round_float16_by_table(q: Fraction, table: list[Fraction]) -> float:
    """Nearest-even float16 by bisection in the exhaustive table (index parity = bit parity)."""
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


def nearest_float(x) -> float:
    """The float64 nearest to an mpf (via the exact rational: no double rounding in the
    subnormal range, unlike float(mpf))."""
    if mpmath.isnan(x):
        return math.nan
    if mpmath.isinf(x):
        return math.inf if x > 0 else -math.inf
    return round_to(exact(x), np.float64)


def exp_rounded(x: float, dtype) -> float:
    """exp(x) correctly rounded to dtype (exp(x) is irrational for x ≠ 0, Lindemann, so 400
    digits decide the rounding unless it lies within 1e-400 relative of a midpoint)."""
    with mpmath.workdps(DPS):
        return round_to(exact(mpmath.exp(mpmath.mpf(x))), dtype)


# --------------------------------------------------------------------------------------------
# ULP, errors, Herbie bits

def ulp(x, dtype) -> Fraction:
    """Spacing of dtype in the binade of |x| (x an mpf or float): 2**(max(e, emin) - p + 1),
    e = floor(log2|x|) read off mpmath.frexp (mantissa in [0.5, 1)); ulp(0) = smallest
    subnormal."""
    f = facts(dtype)
    if x == 0:
        return f["subnormal"]
    with mpmath.workdps(DPS):
        _, e = mpmath.frexp(x if isinstance(x, mpmath.mpf) else mp(x))
    return Fraction(2) ** (max(int(e) - 1, f["emin"]) - f["p"] + 1)


def ulp_error(value: float, ref, dtype) -> float:
    """|value − ref| / ulp(ref) in dtype, exactly, as the nearest float."""
    return float(abs(Fraction(value) - exact(ref)) / ulp(ref, dtype))


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


def herbie_bits(value: float, ref, dtype) -> float:
    """log2(1 + |position(value) − position(correctly rounded ref)|), NaN vs number = width;
    NaN when the exact value is NaN (nothing to measure, as for the other errors)."""
    f = facts(dtype)
    if mpmath.isnan(ref):
        return math.nan
    r = round_to(ref, dtype) if mpmath.isfinite(ref) else (
        float(ref) if f["has_inf"] else math.nan)
    if math.isnan(value) or math.isnan(r):
        return 0.0 if (math.isnan(value) and math.isnan(r)) else float(f["width"])
    return math.log2(1 + abs(ordinal(value, dtype) - ordinal(r, dtype)))


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


# --------------------------------------------------------------------------------------------
# exact LSE and softmax

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


# --------------------------------------------------------------------------------------------
# the evaluation model, with numpy scalars (float16/32/64)

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
        # numpy's pairwise sum adds fewer than 8 terms in a plain loop: left to right in the
        # dtype itself for float32/float64 (float16 accumulates in float32, rounded once)
        plain = order == "sequential" or (np.dtype(dtype) != np.float16 and len(terms) < 8)
        if plain:
            s = dt(0)
            for t in terms:
                s = dt(s + t)
        elif all(np.isfinite(t) for t in terms):
            s = dt(round_to(sum(Fraction(float(t)) for t in terms), dtype))
        else:  # an inf or NaN term: the sum is inf or NaN in any order
            s = dt(sum(float(t) for t in terms))
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


# --------------------------------------------------------------------------------------------
# the evaluation model, exact-then-rounded (every format, every method)

class Model:
    """Arithmetic in a format: +, −, ×, ÷ exact (mpmath), then :func:`round_to` — the
    evaluation model of README, re-implemented from scratch for the method oracles.

    exp, log and log1p are, as README's model says, *numpy's* in the dtype (for float16 and the
    ml_dtypes formats: float32's libm rounded once more), because numpy's float32 exp is not
    correctly rounded (exp(−7.5) is one float32 value off) and one value off in an intermediate
    becomes several in a result.  ``exact_elementary=True`` rounds mpmath's exp/log instead.
    (numpy and ml_dtypes do +, −, ×, ÷ of 16- and 8-bit formats in float32 and round again; that
    is innocuous since 24 ≥ 2p + 2 — Figueroa, "When is double rounding innocuous?", 1995 — so
    the exact-then-rounded model matches them.)"""

    def __init__(self, name: str, exact_elementary: bool = False):
        self.name = name
        self.exact_elementary = exact_elementary

    def _np(self, f, a) -> float:
        dt = np_dtype(self.name).type
        with np.errstate(all="ignore"):
            return float(f(dt(a)))

    def r(self, x) -> float:
        return round_to(x, self.name)

    def _op(self, f, *args) -> float:
        if any(math.isnan(a) for a in args):
            return math.nan
        with mpmath.workdps(DPS):
            try:
                return self.r(f(*[mpmath.mpf(a) for a in args]))
            except (ValueError, ZeroDivisionError):
                return math.nan

    def add(self, a, b):
        if math.isinf(a) and math.isinf(b) and a != b:
            return math.nan
        return self._op(lambda x, y: x + y, a, b)

    def sub(self, a, b):
        if math.isinf(a) and math.isinf(b) and a == b:
            return math.nan
        return self._op(lambda x, y: x - y, a, b)

    def mul(self, a, b):
        return self._op(lambda x, y: x * y, a, b)

    def div(self, a, b):
        if b == 0:
            return math.nan if a == 0 else math.copysign(math.inf, a)
        return self._op(lambda x, y: x / y, a, b)

    def exp(self, a):
        if not self.exact_elementary:
            return self._np(np.exp, a)
        if a == -math.inf:
            return 0.0
        return self._op(mpmath.exp, a)

    def log(self, a):
        if not self.exact_elementary:
            return self._np(np.log, a)
        if a == 0:
            return -math.inf
        return self._op(mpmath.log, a)

    def log1p(self, a):
        if not self.exact_elementary:
            return self._np(np.log1p, a)
        return self._op(mpmath.log1p, a)

    def seqsum(self, ts):
        s = 0.0
        for t in ts:
            s = self.add(s, t)
        return s


def model_lse(xs, name: str, method: str) -> float:
    """LSE by ``method`` with every operation rounded in ``name`` (sequential sums)."""
    M = Model(name)
    if method == "naive":
        return M.log(M.seqsum([M.exp(x) for x in xs]))
    a = max(xs)
    if method == "shifted":
        return M.add(a, M.log(M.seqsum([M.exp(M.sub(x, a)) for x in xs])))
    if method == "log1p":
        k = xs.index(a)
        s = M.seqsum([M.exp(M.sub(x, a)) for i, x in enumerate(xs) if i != k])
        return M.add(a, M.log1p(s))
    if method == "online":
        m, d = model_online(xs, M)
        return M.add(m, M.log(d))
    raise KeyError(method)


def model_online(xs, M: Model):
    """Milakov & Gimelshein's recurrence, every step rounded (d_0 = 0, m_0 = -inf)."""
    m, d = -math.inf, 0.0
    for x in xs:
        m_new = max(m, x)
        if m_new == -math.inf:
            continue
        scale = M.exp(M.sub(m, m_new)) if m != -math.inf else 0.0
        d = M.add(M.mul(d, scale), M.exp(M.sub(x, m_new)))
        m = m_new
    return m, d


def model_softmax(xs, name: str, method: str) -> list[float]:
    """Softmax by ``method`` with every operation rounded in ``name`` (sequential sums)."""
    M = Model(name)
    if method.endswith("exp-lse"):
        base = "naive" if method == "exp-lse" else method[: -len("-exp-lse")]
        y = model_lse(xs, name, base)
        return [M.exp(M.sub(x, y)) for x in xs]
    if method == "naive":
        t = [M.exp(x) for x in xs]
        s = M.seqsum(t)
        return [M.div(e, s) for e in t]
    a = max(xs)
    if method == "shifted":
        t = [M.exp(M.sub(x, a)) for x in xs]
        s = M.seqsum(t)
        return [M.div(e, s) for e in t]
    if method == "log1p":
        k = xs.index(a)
        t = [M.exp(M.sub(x, a)) for x in xs]
        s = M.seqsum([e for i, e in enumerate(t) if i != k])
        one = M.add(1.0, s)
        return [M.div(e, one) for e in t]
    if method == "online":
        m, d = model_online(xs, M)
        return [M.div(M.exp(M.sub(x, m)), d) for x in xs]
    raise KeyError(method)
