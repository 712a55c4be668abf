"""Independent oracles for the tests (bfloat16 / float8, methods, bits, bounds).

Nothing here imports smoothcli.  The formats are defined from their bit layouts, the way their
specifications do, and every rounding is done by **mpmath**, a different route from
smoothcli/core/rounding.py (which scales to an integer significand and uses divmod):

* :data:`LAYOUT` — sign / exponent / fraction bits and bias of each format (IEEE 754 binary16/32/64;
  bfloat16 = the top half of binary32; OCP FP8: E5M2 IEEE-like, E4M3FN with no infinity, its top
  exponent holding normal numbers up to 1.110b·2^8 = 448 and only 1.111b for NaN).
* :func:`decode` — the value of a bit pattern, from the layout (mpmath.ldexp, exact).
* :func:`round_model` — round to nearest, ties to even: ``mpmath.mpf`` at ``prec = p`` with
  ``rounding='n'`` (IEEE round-half-even, unbounded exponent), then the subnormal range by rounding
  q / smallest_subnormal to an integer, half to even, and overflow by IEEE 754 §7.4 (the value
  rounded with unbounded exponent exceeds the largest finite one): ±inf, or NaN for E4M3FN.
* :func:`ordinal_from_bits` — a value's position in the format's order from its bit pattern
  (numpy / ml_dtypes ``view`` as an unsigned integer): sign-magnitude, so for a positive value the
  pattern *is* the position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import mpmath
import numpy as np

PREC = 1200  # bits of every mpmath oracle computation


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


def np_dtype(name: str):
    if name in ML:
        import ml_dtypes

        return np.dtype(getattr(ml_dtypes, name))
    return np.dtype(name)


def decode(bits: int, L: Layout):
    """The value of a non-negative bit pattern (mpf; inf/nan as mpf too)."""
    e = bits >> L.frac_bits
    f = bits & ((1 << L.frac_bits) - 1)
    top = (1 << L.exp_bits) - 1
    if L.has_inf and e == top:
        return mpmath.inf if f == 0 else mpmath.nan
    if not L.has_inf and e == top and f == (1 << L.frac_bits) - 1:
        return mpmath.nan
    if e == 0:
        return mpmath.ldexp(f, 1 - L.bias - L.frac_bits)
    return mpmath.ldexp((1 << L.frac_bits) + f, e - L.bias - L.frac_bits)


def facts(name: str) -> dict:
    """max, smallest normal, smallest subnormal, eps, u, emin — decoded from bit patterns."""
    L = LAYOUT[name]
    top = (1 << L.exp_bits) - 1
    max_bits = ((top - 1) << L.frac_bits | ((1 << L.frac_bits) - 1) if L.has_inf
                else (top << L.frac_bits) | ((1 << L.frac_bits) - 2))
    with mpmath.workprec(PREC):
        return {"max": decode(max_bits, L), "max_bits": max_bits,
                "tiny": decode(1 << L.frac_bits, L), "sub": decode(1, L),
                "eps": mpmath.ldexp(1, -L.frac_bits), "u": mpmath.ldexp(1, -L.p),
                "emin": 1 - L.bias, "p": L.p, "has_inf": L.has_inf, "width": L.width}


def all_values(name: str) -> list:
    """Every non-negative finite value of a format, ascending (only for the 8/16-bit ones)."""
    L = LAYOUT[name]
    assert L.width <= 16
    out = []
    with mpmath.workprec(PREC):
        for b in range(1 << (L.width - 1)):
            v = decode(b, L)
            if mpmath.isfinite(v):
                out.append(v)
    return out


def round_model(q, name: str) -> float:
    """``q`` (an mpf, Fraction, int or decimal string) rounded to nearest-even in ``name``.

    Returned as a Python float (exact).  NaN for an overflow of E4M3FN."""
    L = LAYOUT[name]
    F = facts(name)
    with mpmath.workprec(PREC):
        if isinstance(q, Fraction):
            x = mpmath.mpf(q.numerator) / q.denominator
        else:
            x = mpmath.mpf(q)
        if mpmath.isnan(x):
            return math.nan
        if x == 0:
            return 0.0
        sign = -1 if x < 0 else 1
        a = abs(x)
        if mpmath.isinf(a):
            return sign * math.inf if L.has_inf else math.nan
        if a < F["tiny"]:
            # Subnormal range: a fixed-point grid of step `sub`; nint rounds half to even.
            k = mpmath.nint(a / F["sub"])
            r = k * F["sub"]
        else:
            r = mpmath.mpf(a, prec=L.p, rounding="n")  # IEEE round-half-even, p bits
        if r > F["max"]:
            return sign * math.inf if L.has_inf else math.nan
        return sign * float(r)


def value_bits(v: float, name: str) -> int:
    """The bit pattern of the value ``v`` of ``name`` (numpy / ml_dtypes view)."""
    dt = np_dtype(name)
    uint = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}[dt.itemsize]
    return int(np.array([v], dtype=np.float64).astype(dt).view(uint)[0])


def ordinal_from_bits(v: float, name: str) -> int:
    """Position of the value ``v`` in the format's order, read off its bit pattern."""
    L = LAYOUT[name]
    b = value_bits(v, name)
    mag = b & ((1 << (L.width - 1)) - 1)
    return -mag if b >> (L.width - 1) else mag


def herbie_bits(value: float, ref, name: str) -> float:
    """log2(1 + |position(value) − position(correctly rounded ref)|), NaN vs number = width;
    NaN when the exact value is NaN (nothing to measure, as for the other errors)."""
    if mpmath.isnan(ref):
        return math.nan
    r = round_model(ref, name) if mpmath.isfinite(ref) else (
        float(ref) if LAYOUT[name].has_inf or mpmath.isnan(ref) else math.nan)
    if math.isnan(value) or math.isnan(r):
        return 0.0 if (math.isnan(value) and math.isnan(r)) else float(LAYOUT[name].width)
    return math.log2(1 + abs(ordinal_from_bits(value, name) - ordinal_from_bits(r, name)))


def lse(xs):
    """log Σ exp(x_i), directly, at PREC bits (finite inputs)."""
    with mpmath.workprec(PREC):
        return +mpmath.log(mpmath.fsum(mpmath.exp(mpmath.mpf(v)) for v in xs))


def softmax(xs):
    with mpmath.workprec(PREC):
        e = [mpmath.exp(mpmath.mpf(v)) for v in xs]
        s = mpmath.fsum(e)
        return [+(t / s) for t in e]


class Model:
    """Arithmetic in a format: +, −, ×, ÷ exact (mpmath), then :func:`round_model` — the
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
        return round_model(x, self.name)

    def _op(self, f, *args) -> float:
        if any(math.isnan(a) for a in args):
            return math.nan
        with mpmath.workprec(PREC):
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


def ordinal_distance(a: float, b: float, name: str) -> float:
    """How many values of ``name`` apart two values are (inf for NaN against a number)."""
    if math.isnan(a) or math.isnan(b):
        return 0 if (math.isnan(a) and math.isnan(b)) else math.inf
    return abs(ordinal_from_bits(a, name) - ordinal_from_bits(b, name))
