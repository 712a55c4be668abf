"""Property-based tests: the tool's numbers and contracts hold for *generated* inputs.

Every expectation is computed here, independently of smoothcli:

* the formats are modelled from ``numpy.finfo`` / ``ml_dtypes.finfo`` (:class:`Model`), not from
  :mod:`smoothcli.core.formats` (which is itself checked against finfo below); the test rounds with
  Python's exact ``round(Fraction)`` (ties to even) on the format's grid;
* exact values are the textbook formulas evaluated directly with mpmath at 60 significant digits
  and more (``log(fsum(exp(x)))``, no shift, no log1p), raised until two precisions agree;
* the exp thresholds are ``ln`` of the exact overflow / underflow midpoints, with mpmath.

The dtypes come from ``smoothcli.core.formats.FORMATS`` and the methods from the tool's own
``--method all``, so dtypes and methods added later are covered without touching this file.

Budget: about a minute on two cores with the derandomized defaults below.  For a longer, random
hunt: ``SMOOTH_PROPERTY_EXAMPLES=500 SMOOTH_PROPERTY_RANDOM=1 python -m pytest
tests/test_properties.py``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
import traceback
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

import mpmath
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import loads_strict, num
from oracle import exact, mp
from smoothcli.cli import app
from smoothcli.core.formats import FORMATS

FORMAT_NAMES = list(FORMATS)

# --------------------------------------------------------------------------------------------
# hypothesis settings
#
# derandomize=True: every test draws its examples from a seed derived from the test itself, so CI
# runs the very same examples on every machine and every run: a red run is reproducible bit for
# bit, a green one stays green unless the code changes.  (A fixed seed profile would do the same;
# derandomize needs no profile registration that could leak into other test files.)
# database=None: nothing is written into the checkout (.hypothesis/), in line with the tool's own
# "nothing written" rule.  deadline=None: some examples (long vectors, 400-digit references) are
# legitimately slower than hypothesis' 200 ms default; the budget is held by max_examples.
# SMOOTH_PROPERTY_EXAMPLES / SMOOTH_PROPERTY_RANDOM scale the search up and randomise it locally.

_SCALE = int(os.environ.get("SMOOTH_PROPERTY_EXAMPLES", "0"))
_RANDOM = bool(os.environ.get("SMOOTH_PROPERTY_RANDOM"))


def budget(n: int) -> settings:
    return settings(max_examples=_SCALE or n, deadline=None, derandomize=not _RANDOM,
                    database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# --------------------------------------------------------------------------------------------
# The test's own model of a format (from finfo), rounding and ULPs

def _finfo(dtype):
    try:
        import ml_dtypes

        return ml_dtypes.finfo(dtype)
    except ImportError:  # pragma: no cover - ml_dtypes ships with the bfloat16/fp8 formats
        return np.finfo(dtype)


def floor_log2(a: Fraction) -> int:
    """floor(log2 a), a > 0, by comparing with powers of two (no bit tricks)."""
    e = a.numerator.bit_length() - a.denominator.bit_length()
    while Fraction(2) ** e > a:
        e -= 1
    while Fraction(2) ** (e + 1) <= a:
        e += 1
    return e


@dataclass(frozen=True)
class Model:
    """A binary floating-point format as numpy/ml_dtypes describe it."""

    name: str
    dtype: Any
    p: int  # precision, implicit bit included
    emin: int
    emax: int
    max: Fraction
    has_inf: bool

    @property
    def sub(self) -> Fraction:
        return Fraction(2) ** (self.emin - self.p + 1)

    @property
    def normal(self) -> Fraction:
        return Fraction(2) ** self.emin

    @property
    def u(self) -> Fraction:
        return Fraction(1, 2 ** self.p)

    def quantum(self, a: Fraction) -> Fraction:
        """The spacing of the grid at |a| (a != 0): 2**(max(floor(log2|a|), emin) - p + 1)."""
        return Fraction(2) ** (max(floor_log2(abs(a)), self.emin) - self.p + 1)

    def ulp(self, x) -> Fraction:
        """ulp of the format at x (Fraction, float or mpf); ulp(0) = smallest subnormal."""
        if x == 0:
            return self.sub
        if isinstance(x, mpmath.mpf):
            _, e = mpmath.frexp(x)  # x = m * 2**e, 0.5 <= |m| < 1: floor(log2|x|) = e - 1
            return Fraction(2) ** (max(int(e) - 1, self.emin) - self.p + 1)
        return self.quantum(Fraction(x))

    def grid(self, q: Fraction, mode: str) -> Fraction:
        """q on the format's grid (exponent range unbounded above): nearest-even, down or up."""
        if q == 0:
            return Fraction(0)
        step = self.quantum(q)
        k = q / step
        k = Fraction(round(k) if mode == "nearest" else
                     (math.floor(k) if mode == "down" else math.ceil(k)))
        return k * step

    def rn(self, q: Fraction, negative: bool = False) -> float:
        """IEEE 754 round to nearest, ties to even, overflow to ±inf (NaN without infinities)."""
        if q == 0:
            return -0.0 if negative else 0.0
        v = self.grid(q, "nearest")
        if v == 0:  # underflow to zero keeps the sign of the exact value (IEEE 754 §6.3)
            return -0.0 if q < 0 else 0.0
        if abs(v) > self.max:
            if not self.has_inf:
                return math.nan
            return math.inf if q > 0 else -math.inf
        return float(v)

    def succ(self, v: Fraction) -> Fraction:
        """The next value of the format above v >= 0 (unbounded above)."""
        return v + (self.sub if v == 0 else self.quantum(v))


@lru_cache(maxsize=None)
def model(name: str) -> Model:
    dt = np.dtype(FORMATS[name].np)  # only the name -> numpy dtype mapping comes from smoothcli
    fi = _finfo(dt)
    with np.errstate(all="ignore"):
        has_inf = bool(np.isinf(np.array([np.inf], dtype=np.float32).astype(dt)[0]))
    return Model(name, dt, int(fi.nmant) + 1, int(fi.minexp), int(fi.maxexp) - 1,
                 Fraction(float(fi.max)), has_inf)


@dataclass(frozen=True)
class Thresholds:
    ln_omega: Any  # ln of the overflow midpoint max + ulp(max)/2: exp(x) rounds to inf iff x > it
    ln_zero: Any  # ln(sub/2): exp(x) rounds to 0 iff x < it (the tie goes to the even 0)
    x_over: Fraction  # largest value of the format whose exp is finite
    x_zero: Fraction  # smallest value of the format whose exp is not 0
    x_normal: Fraction  # smallest value of the format whose exp is normal


@lru_cache(maxsize=None)
def thresholds(name: str) -> Thresholds:
    """exp(x) is irrational for rational x != 0 (Lindemann), so it is never exactly on a
    midpoint; at 60 digits the comparison with the ln of the midpoint is decided."""
    m = model(name)
    with mpmath.workdps(60):
        omega = m.max + m.ulp(m.max) / 2
        ln_omega = mpmath.log(mp(omega))
        ln_zero = mpmath.log(mp(m.sub / 2))
        ln_normal = mpmath.log(mp(m.normal - m.sub / 2))
        return Thresholds(ln_omega, ln_zero, m.grid(exact(ln_omega), "down"),
                          m.grid(exact(ln_zero), "up"), m.grid(exact(ln_normal), "up"))


# --------------------------------------------------------------------------------------------
# Independent references: log(fsum(exp(x))) and exp(x_i)/fsum(exp(x)) with mpmath, as written

def _plain_lse(values: list, dps: int):
    """log(fsum(exp(x))) as written, at ``dps`` digits (mpmath's exponent range is unbounded)."""
    with mpmath.workdps(dps):
        return mpmath.log(mpmath.fsum(mpmath.exp(mp(v)) for v in values))


def _log1p_lse(values: list, dps: int):
    """m + log1p(Σ_{i≠k} exp(x_i − m)): only where the plain form cannot resolve an LSE within
    10**-dps of 0 (LSE(0, −4.6e18) = e**−4.6e18 is 1 + e**−4.6e18 before the log)."""
    with mpmath.workdps(dps):
        xs = [mp(v) for v in values]
        k = max(range(len(xs)), key=lambda i: xs[i])
        tail = mpmath.fsum(mpmath.exp(x - xs[k]) for i, x in enumerate(xs) if i != k)
        return xs[k] + mpmath.log1p(tail)


def special_lse(values: list[float | Fraction]):
    """scipy.special.logsumexp's conventions, or None when every value is finite."""
    fl = [v for v in values if isinstance(v, float)]
    if any(math.isnan(v) for v in fl):
        return mpmath.mpf("nan")
    if any(v == math.inf for v in fl):
        return mpmath.mpf("inf")
    if all(isinstance(v, float) and v == -math.inf for v in values):
        return mpmath.mpf("-inf")
    return None


def finite_part(values: list) -> list[Fraction]:
    return [v if not isinstance(v, float) else Fraction(v) for v in values
            if not (isinstance(v, float) and not math.isfinite(v))]


def exact_lse(values: list, digits: int = 40):
    """LSE to ``digits`` correct significant digits, scipy's rules for non-finite values.

    The plain formula at rising precision until two evaluations 20 digits apart agree; where it
    cannot (an LSE so close to 0 that 1 + tail rounds to 1 at 540+ digits) the log1p form."""
    sp = special_lse(values)
    if sp is not None:
        return sp
    finite = finite_part(values)
    if len(finite) == 1:  # LSE(x) = x; mpf of a typed decimal is rounded at this precision
        with mpmath.workdps(digits + 20):
            return mp(finite[0])
    for form in (_plain_lse, _log1p_lse):
        dps = digits + 20
        for _ in range(3):
            a, b = form(finite, dps), form(finite, dps + 20)
            with mpmath.workdps(dps + 20):
                if b != 0 and abs(a - b) <= abs(b) * mpmath.mpf(10) ** (-digits):
                    return b
            dps *= 3
    raise AssertionError(f"reference did not settle for {values!r}")


def exact_softmax(values: list[Fraction], digits: int = 40) -> list:
    """exp(x_i) / Σ exp(x_j) for finite values, directly: every term is positive, so the result
    has ~dps − 5 correct digits whatever the spread; computed at digits + 20."""
    with mpmath.workdps(digits + 20):
        e = [mpmath.exp(mp(v)) for v in values]
        s = mpmath.fsum(e)
        return [t / s for t in e]


# --------------------------------------------------------------------------------------------
# Inputs: decimal tokens with their exact values

@dataclass(frozen=True)
class Tok:
    text: str
    q: Fraction | None  # exact value of a finite token
    special: float | None = None

    def rounded(self, m: Model) -> float:
        if self.q is None:
            assert self.special is not None
            if math.isinf(self.special) and not m.has_inf:
                return math.nan
            return self.special
        return m.rn(self.q, negative=self.text.startswith("-"))


def tok(x: float) -> Tok:
    if math.isnan(x):
        return Tok("nan", None, math.nan)
    if math.isinf(x):
        return Tok("inf" if x > 0 else "-inf", None, x)
    text = repr(float(x))  # the shortest decimal that reads back as x in float64, hence (it is
    return Tok(text, Fraction(text))  # within ulp64/2 of x) rounds to x in any narrower format


def exact_decimal_text(q: Fraction) -> str:
    """The exact decimal expansion of a dyadic rational (denominator a power of two)."""
    sign = "-" if q < 0 else ""
    a = abs(q)
    k = a.denominator.bit_length() - 1
    assert a.denominator == 1 << k
    digits = str(a.numerator * 5 ** k).rjust(k + 1, "0")
    whole, frac_part = digits[:len(digits) - k], digits[len(digits) - k:]
    return sign + whole + ("." + frac_part if frac_part else "")


_F64_OVERFLOW = Fraction(2) ** 1024 - Fraction(2) ** 970  # the tool refuses decimals beyond


def _value(m: Model, draw) -> Fraction:
    """Any finite value of the format, every binade (and the subnormals) equally likely."""
    sign = draw(st.sampled_from([1, -1]))
    e = draw(st.integers(m.emin - 1, m.emax))
    if e < m.emin:  # subnormal (or zero)
        k = draw(st.integers(0, 2 ** (m.p - 1) - 1))
        return sign * k * m.sub
    top = 2 ** m.p - 1
    k = draw(st.integers(2 ** (m.p - 1), top))
    v = k * Fraction(2) ** (e - m.p + 1)
    return sign * min(v, m.max)


ALL_KINDS = ("anywhere", "moderate", "edge", "tie", "decimal")


@st.composite
def tokens(draw, m: Model, specials: bool = False, kinds: tuple = ALL_KINDS):
    """One input token for format ``m``: a value anywhere in the format, a value where exp
    changes behaviour, an edge value, an exact midpoint between two neighbours (a rounding tie),
    a decimal that is not a value of the format, or (with ``specials``) inf/nan."""
    t = thresholds(m.name)
    kinds = list(kinds) + (["special"] if specials else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "anywhere":
        return tok(float(_value(m, draw)))
    if kind == "moderate":  # around the range of exp, where naive formulas start to fail
        lo, hi = float(t.ln_zero) * 1.25, float(t.ln_omega) * 1.25
        x = draw(st.floats(lo, hi, allow_nan=False, allow_infinity=False))
        v = m.grid(Fraction(x), "nearest")
        return tok(float(v if abs(v) <= m.max else m.max))
    if kind == "edge":
        edges = [Fraction(0), m.max, m.normal, m.sub, Fraction(1), t.x_over, m.succ(t.x_over),
                 t.x_zero, t.x_zero - m.quantum(t.x_zero), t.x_normal,
                 t.x_normal - m.quantum(t.x_normal)]
        v = draw(st.sampled_from(edges))
        if v == 0:
            return tok(draw(st.sampled_from([0.0, -0.0])))
        v = v * draw(st.sampled_from([1, -1]))
        return tok(float(v) if abs(v) <= m.max else float(m.max))
    if kind == "tie":
        # exactly halfway between two neighbouring finite values (ties to even), or a hair off
        # the midpoint (2**-70 ulp: a rounding through float64 first would land on the midpoint
        # and then go the even way, which may be the wrong one)
        v = abs(_value(m, draw))
        if v >= m.max:
            v = m.normal
        mid = (v + m.succ(v)) / 2
        q = mid + draw(st.sampled_from([0, 1, -1])) * m.quantum(mid) / 2 ** 70
        q *= draw(st.sampled_from([1, -1]))
        return Tok(exact_decimal_text(q), q)
    if kind == "decimal":  # a short decimal, usually not a value of the format
        mant = draw(st.integers(-(10 ** 17), 10 ** 17))
        lo10 = math.floor(math.log10(float(m.sub))) - 18
        hi10 = math.floor(math.log10(float(m.max))) - 1
        e10 = draw(st.integers(lo10, hi10))
        if abs(Fraction(mant) * Fraction(10) ** e10) >= _F64_OVERFLOW:  # refused by the tool:
            e10 = 0  # the bad-input corpus covers that
        return Tok(f"{mant}e{e10}", Fraction(mant) * Fraction(10) ** e10)
    return tok(draw(st.sampled_from([math.inf, -math.inf, math.nan])))


@st.composite
def vectors(draw, m: Model, specials: bool = False, finite: bool = False, max_len: int = 3000,
            kinds: tuple = ALL_KINDS):
    """A list of tokens: short (1-12), short with repeats (ties in the max), or long (up to
    ``max_len``, a short list repeated and shuffled)."""
    elem = tokens(m, specials=specials, kinds=kinds)
    if finite:
        elem = elem.filter(lambda tk: math.isfinite(tk.rounded(m)))
    base = draw(st.lists(elem, min_size=1, max_size=12))
    shape = draw(st.sampled_from(["short", "repeats", "long"]))
    if shape == "short" or max_len <= 12:
        return base[:max_len]
    if shape == "repeats":
        return draw(st.lists(st.sampled_from(base), min_size=1, max_size=min(24, max_len)))
    n = draw(st.integers(13, max_len))
    out = [base[i % len(base)] for i in range(n)]
    draw(st.randoms(use_true_random=False)).shuffle(out)
    return out


# --------------------------------------------------------------------------------------------
# Driving the CLI

_RUNNER = CliRunner()


def invoke(args: list[str], input: str | bytes | None = None):
    result = _RUNNER.invoke(app, [str(a) for a in args], input=input)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError("uncaught exception:\n" + "".join(
            traceback.format_exception(result.exception)))
    assert "Traceback" not in result.stdout + result.stderr
    return result


def run_json(command: str, toks: list[Tok], *opts: str) -> dict:
    result = invoke([command, *[t.text for t in toks], *opts, "--json"])
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    return loads_strict(result.stdout)


#: Methods whose LSE is the textbook log(Σ exp x): the ones expected to overflow / underflow.
#: (``exp-lse`` is the division-free softmax built on the naive LSE, see methods_bhh.py.)
def is_naive(method: str) -> bool:
    return method == "naive" or method.startswith("naive") or method == "exp-lse"


#: Softmax methods whose outputs are t_i / fl(Σ t_j) of the *same* computed terms t_j, for which
#: the sum-to-one bound below holds (online rescales its running sum; exp-lse forms divide by
#: nothing).
SUM_CONSISTENT = {"naive", "shifted", "log1p"}


def gamma(k: int, u: Fraction) -> Fraction | None:
    """Higham's γ_k = k·u / (1 − k·u) (ASNA §3.1), None when k·u >= 1 (no bound)."""
    return None if k * u >= 1 else k * u / (1 - k * u)


def compute_u(m: Model) -> Fraction:
    """The unit roundoff of one operation as numpy performs it: formats narrower than float32
    are computed in float32 and rounded once more (u + u_32·(1 + u) <= u·(1 + 2**-12))."""
    return m.u * (1 + Fraction(1, 2 ** 12)) if m.p < 24 else m.u


def orders() -> list[str]:
    from smoothcli.core.accumulation import ORDERS

    return list(ORDERS)


# ============================================================================================
# 0. The format facts the tool uses are numpy's / ml_dtypes' (so the model above may stand in)

@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_format_facts_agree_with_finfo(name):
    fmt, m = FORMATS[name], model(name)
    assert (fmt.precision, fmt.emin, fmt.emax) == (m.p, m.emin, m.emax)
    assert fmt.max_finite == m.max
    assert fmt.smallest_subnormal == Fraction(float(_finfo(m.dtype).smallest_subnormal))
    assert fmt.smallest_normal == Fraction(float(_finfo(m.dtype).smallest_normal))
    assert fmt.eps == Fraction(float(_finfo(m.dtype).eps))
    assert fmt.has_inf == m.has_inf
    # The test's own rounding agrees with the dtype's cast on values exactly between neighbours
    # (the hardest case), at the bottom, middle and top of the range.
    for v in (m.sub, m.normal - m.sub, Fraction(1), m.max - m.ulp(m.max)):
        mid = (v + m.succ(v)) / 2
        with np.errstate(all="ignore"):
            cast = float(np.array([float(mid)], dtype=np.float64).astype(m.dtype)[0])
        assert m.rn(mid) == cast


# ============================================================================================
# 1. Inputs are rounded once, correctly (nearest, ties to even) to every format

@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_inputs_are_rounded_once_correctly(name):
    m = model(name)

    @budget(25)
    @given(toks=vectors(m, specials=True, max_len=40))
    def prop(toks):
        doc = run_json("lse", toks, "--dtype", name, "--method", "shifted")
        assert [i["text"] for i in doc["inputs"]] == [t.text for t in toks]
        for t, item in zip(toks, doc["inputs"]):
            want, got = t.rounded(m), num(item["rounded"][name])
            if math.isnan(want):
                assert math.isnan(got), (t.text, got)
            else:
                assert got == want and math.copysign(1, got) == math.copysign(1, want), \
                    (t.text, got, want)
            changed = t.q is None and not (math.isnan(want) and math.isnan(t.special)) and \
                want != t.special or t.q is not None and (not math.isfinite(want)
                                                          or Fraction(want) != t.q)
            assert item["changed"][name] == changed, t.text

    prop()


# ============================================================================================
# 2. Stable LSE: never ±inf / NaN for finite inputs, and max <= LSE <= max + log n (rounded)

@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_stable_lse_is_finite_and_within_max_and_max_plus_log_n(name):
    """For every method but the naive ones, on finite inputs (n of them, maximum m):

    * the value is finite and no flag is raised (whenever the exact LSE rounds to a finite value,
      and, in a format without infinities, x_i − m does not overflow: see below);
    * m <= value, exactly: the max's own term is exp(0) = 1 and the others are >= 0, so the
      computed sum is >= 1 and its log >= 0 (round to nearest is monotone);
    * value <= m + log n + (⌈log2 n⌉ + 1)·u + ulp(log n + 1) + ulp(|m| + log n + 1): every term
      is <= 1, so a sequential sum never exceeds n (the partial sums are bounded by the chain
      b_k = fl(b_{k-1} + 1) <= k) and a pairwise one exceeds it by at most a factor
      (1 + u)**(levels); the log is faithful (< 1 ulp) and the final addition rounds once.
    """
    m = model(name)

    @budget(30)
    @given(toks=vectors(m, finite=True), order=st.sampled_from(orders()))
    def prop(toks, order):
        vals = [t.rounded(m) for t in toks]
        doc = run_json("lse", toks, "--dtype", name, "--method", "all", "--sum", order)
        n, top = len(vals), max(Fraction(v) for v in vals)
        t = thresholds(name)
        with mpmath.workdps(60):
            y = exact_lse([Fraction(v) for v in vals])
            finite_exact = y < t.ln_omega or math.isfinite(m.rn(exact(y)))
            log_n = mpmath.log(n)
            levels = math.ceil(math.log2(n)) + 1 if n > 1 else 0
            slack = (mp(levels * m.u) + mp(m.ulp(exact(log_n + 1)))
                     + mp(m.ulp(exact(abs(mp(top)) + log_n + 1))))
            upper = mp(top) + log_n + slack
        # Without infinities (float8_e4m3fn) the shift itself can overflow: x_i − max beyond the
        # format's range is NaN, not −inf (LSE(18, −448) in e4m3fn: −466 > 448).  The tool must
        # then show it; with infinities exp(−inf) = 0 keeps the shift harmless.
        shift_overflows = not m.has_inf and any(
            math.isnan(m.rn(Fraction(v) - top)) for v in vals)
        stable = [r for r in doc["rows"] if not is_naive(r["method"])]
        assert stable, "no stable LSE method evaluated"
        for row in stable:
            v = num(row["value"])
            note(f"{row['method']}: {v!r} (exact {mpmath.nstr(y, 20)})")
            if not finite_exact:
                continue
            if shift_overflows:
                assert row["overflow"] or math.isfinite(v), row
                continue
            assert math.isfinite(v), row
            assert not (row["overflow"] or row["underflow"] or row["nan"]), row
            assert Fraction(v) >= top, (row["method"], v, top)
            with mpmath.workdps(60):
                assert mp(v) <= upper, (row["method"], v, mpmath.nstr(upper, 20))

    prop()


# ============================================================================================
# 3. Naive LSE: overflow exactly when an exp overflows, underflow exactly when Σ exp is flushed

def _term_bracket(x: Fraction, m: Model) -> tuple[Any, Any]:
    """[lo, hi] holding numpy's exp(x) in the format (mpf; hi may be +inf).

    Formats narrower than float32 get exp computed in float32 (relative error well below 2**-21)
    and rounded once to nearest: lo/hi are that rounding at exp(x)·(1 ∓ 2**-21).  float32 and
    float64 get numpy's own exp, taken to be within 4 ulps."""
    with mpmath.workdps(40):
        if mp(x) < thresholds(m.name).ln_zero - 1:
            # exp(x) < s/(2e): 0 in every format, by any exp worth the name (and an exact
            # Fraction of exp(-3e38), a bfloat16 possibility, would not fit in memory)
            return mpmath.mpf(0), mpmath.mpf(0)
        e = mpmath.exp(mp(x))
        if m.p < 24:
            eta = mpmath.mpf(2) ** -21
            lo, hi = (m.rn(exact(e * (1 - eta))), m.rn(exact(e * (1 + eta))))
            return mpmath.mpf(lo), mpmath.mpf(hi)
        step = mp(m.ulp(e))
        return max(mpmath.mpf(0), e - 4 * step), e + 4 * step


def input_overflow(toks: list[Tok], m: Model) -> bool | None:
    """README: rounding the inputs overflowed (IEEE 754 §7.4) when the values as typed give a
    finite LSE (no nan, no +inf typed) but a finite token became +inf (NaN in a format without
    infinities), or every token became -inf.  None when a typed ±inf meets a format without
    infinities (it becomes NaN there: see the report for how the tool treats it)."""
    vals = [tk.rounded(m) for tk in toks]
    if not m.has_inf and any(tk.special is not None and math.isinf(tk.special) for tk in toks):
        return None
    if any(tk.special is not None and (math.isnan(tk.special) or tk.special == math.inf)
           for tk in toks):
        return False
    up = any(tk.q is not None and (v == math.inf or math.isnan(v)) for tk, v in zip(toks, vals))
    return up or (all(v == -math.inf for v in vals) and any(tk.q is not None for tk in toks))


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_naive_lse_flags_overflow_and_underflow_exactly(name):
    """The naive row's flags against predicates derived here from the exact exp thresholds:

    * overflow  <=>  some finite x_i > ln(max + ulp(max)/2)   (that exp rounds to inf),
                     or the sum of the (finite) rounded exps reaches the overflow midpoint,
                     or rounding the inputs overflowed (see input_overflow);
    * underflow <=>  the computed Σ exp is below the smallest normal, i.e. (sums of subnormals
                     are exact) the exps rounded to the format add up to less than 2**emin;
    * flushed_terms counts the finite x_i whose exp rounded to 0.
    The sum conditions are decided from a bracket of every computed exp (see _term_bracket) and,
    for overflow of the sum, Higham's γ_{n-1} bound on a sum of n terms; inputs in the thin band
    the brackets cannot decide assert only what is certain.  A NaN typed: no flag at all; a NaN
    or +inf among the rounded inputs: no underflow, and overflow only for the reasons above."""
    m = model(name)
    t = thresholds(name)
    omega = mp(m.max + m.ulp(m.max) / 2)
    normal = mp(m.normal)

    @budget(30)
    @given(toks=vectors(m, specials=True), order=st.sampled_from(orders()))
    def prop(toks, order):
        vals = [tk.rounded(m) for tk in toks]
        doc = run_json("lse", toks, "--dtype", name, "--method", "naive", "--sum", order)
        (row,) = doc["rows"]
        finite = [Fraction(v) for v in vals if math.isfinite(v)]
        with mpmath.workdps(60):
            term_over = any(mp(x) > t.ln_omega for x in finite)
            brackets = [_term_bracket(x, m) for x in finite if mp(x) <= t.ln_omega]
            certain = sum(1 for b in brackets if b[1] == 0)  # exps surely rounded to 0
            possible = sum(1 for b in brackets if b[0] == 0)  # exps that may round to 0
            lo_sum = mpmath.fsum(b[0] for b in brackets)
            hi_sum = mpmath.fsum(b[1] for b in brackets)
            g = gamma(max(len(vals) - 1, 0), compute_u(m))
        inp_over = input_overflow(toks, m)
        note(f"term_over={term_over} input_overflow={inp_over} lo_sum={mpmath.nstr(lo_sum, 8)} "
             f"hi_sum={mpmath.nstr(hi_sum, 8)} row={row}")
        if any(tk.special is not None and math.isnan(tk.special) for tk in toks):
            assert not (row["overflow"] or row["underflow"] or row["nan"]), row
            return
        nan_in = any(math.isnan(v) for v in vals)
        # nan: the result is NaN although the exact value (of the rounded inputs) is not
        assert row["nan"] == (math.isnan(num(row["value"])) and not nan_in), row
        if inp_over is None:  # typed ±inf in a format without infinities: left to the report
            return
        posinf = any(v == math.inf for v in vals)
        if inp_over or term_over:
            assert row["overflow"], row
        elif nan_in or posinf:
            assert not row["overflow"], row
        elif g is not None and hi_sum * (1 + mp(g)) < omega:
            assert not row["overflow"], row
        elif g is not None and lo_sum * (1 - mp(g)) >= omega:
            assert row["overflow"], row
        if nan_in or posinf or term_over or not finite:
            assert not row["underflow"], row
        elif hi_sum < normal:
            assert row["underflow"], row
        elif lo_sum >= normal:
            assert not row["underflow"], row
        # flushed terms: certain zeros <= count <= possible zeros
        assert certain <= row["flushed_terms"] <= possible, (certain, row, possible)

    prop()


# ============================================================================================
# 4. Softmax: outputs in [0, 1], summing to 1 within the stated bound; argmax/hardmax = numpy

@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_softmax_outputs_in_unit_interval_sum_to_one_and_hardmax_agrees_with_numpy(name):
    """On finite inputs every non-naive method gives outputs in [0, 1] (each term t_i <= 1 and
    the divisor >= 1; exp(x_i - LSE) with LSE >= max) and raises no flag.  For the divide forms
    of the same computed terms (naive when unflagged, shifted, log1p) the stated bound is

        |Σ y_i − 1| <= (u' + γ_{n−1}) / (1 − γ_{n−1}) + n·s/2

    with u' the unit roundoff of one division as numpy performs it (see compute_u), γ_{n−1} the
    bound of any summation order of n terms (Higham, ASNA Lemma 3.1 and §4.2) and s the smallest
    subnormal (outputs that land among the subnormals).  The sum is computed here exactly."""
    m = model(name)
    u1 = compute_u(m)

    # Short vectors take values from the whole range; long ones (to 2000) from around the range
    # of exp.  (Softmax elements like exp(-1e308) cost the tool ~0.4 s each to print, see the
    # whole-range vectors of hundreds of elements would take minutes.)
    whole = vectors(m, specials=True, max_len=24)
    long = vectors(m, specials=True, max_len=2000, kinds=("moderate", "edge", "tie"))

    @budget(25)
    @given(toks=st.one_of(whole, long), order=st.sampled_from(orders()))
    def prop(toks, order):
        vals = [tk.rounded(m) for tk in toks]
        doc = run_json("softmax", toks, "--dtype", name, "--method", "all", "--sum", order)
        n = len(vals)
        # hardmax / argmax against numpy on the same dtype values
        (hard,) = [h for h in doc["hardmax"] if h["dtype"] == name]
        if any(math.isnan(v) for v in vals):
            # NaN has no place in an order: the tool reports max/argmax/hardmax as undefined,
            # where numpy's argmax would return the first NaN's index.
            assert hard["argmax"] is None and hard["hardmax"] is None
        else:
            arr = np.array(vals, dtype=np.float64)  # exact: every value of the format is a float64
            k = int(np.argmax(arr))
            assert hard["argmax"] == k
            assert num(hard["max"]) == float(np.max(arr))
            assert hard["hardmax"] == [1 if i == k else 0 for i in range(n)]
        if not all(math.isfinite(v) for v in vals):
            return
        g = gamma(n - 1, u1)
        bound = None if g is None or g >= 1 else (u1 + g) / (1 - g) + n * m.sub / 2
        top = max(Fraction(v) for v in vals)
        shift_overflows = not m.has_inf and any(  # see the stable LSE test
            math.isnan(m.rn(Fraction(v) - top)) for v in vals)
        for row in doc["rows"]:
            method = row["method"]
            ys = [num(y) for y in row["value"]]
            flagged = row["overflow"] or row["underflow"] or row["nan"]
            if is_naive(method) and (flagged or "exp-lse" in method):
                continue  # exp(x - naive LSE) may exceed 1: a rounded-down LSE is below max
            if shift_overflows and flagged:
                assert row["overflow"], row
                continue
            assert not flagged, row
            assert all(0 <= y <= 1 for y in ys), (method, ys)
            if method not in SUM_CONSISTENT:
                continue
            total = sum(Fraction(y) for y in ys)
            assert row["output_sum"] == float(total)  # fsum is correctly rounded
            if bound is not None:
                assert abs(total - 1) <= bound, (method, float(total), float(bound))

    prop()


# ============================================================================================
# 5. ulp_error = |value − reference| / spacing(reference), recomputed here

def _power_of_two_near(ref):
    """The power of two closest to |ref| (a binade boundary), as an mpf."""
    _, e = mpmath.frexp(ref)  # |ref| in [2**(e-1), 2**e)
    lo, hi = mpmath.ldexp(1, int(e) - 1), mpmath.ldexp(1, int(e))
    return lo if abs(ref) - lo <= hi - abs(ref) else hi


#: The tool's reference is right to 96 relative bits (README, "evaluation model"; Ziv loop in
#: smoothcli/reference/exact.py), so an ulp error it reports is right to 2**(p + 1 - 96) ulps: the
#: tolerance of the comparison below (1e-13 ulp of float64, 2e-26 ulp of float16).
REFERENCE_BITS = 96


def _my_errors(value: float, exact_of, m: Model, exact_q: Fraction | None = None):
    """(abs, rel, [candidate ulp errors], tolerance in ulps, |ref|) of ``value`` against the
    exact value (``exact_q`` when it is rational, else ``exact_of(40)``, an mpf to 40 digits,
    far beyond the tool's 96 bits).

    Where the exact value lies within the tool's accuracy (2**-96 relative) of a power of two, the
    tool's reference may sit on either side of it, so both spacings are candidates (softmax of
    (448, 448, 0) is 0.5 − 1e-195).  It is exactly a power of two only in the cases the callers
    pass as ``exact_q`` (Lindemann–Weierstrass: sums of e**a over distinct rationals a are never
    rational)."""
    tol = 2.0 ** (m.p + 1 - REFERENCE_BITS)
    if exact_q is not None:
        d = abs(Fraction(value) - exact_q)
        rel = d / abs(exact_q) if exact_q else (Fraction(0) if d == 0 else math.inf)
        return float(d), float(rel), [float(d / m.ulp(exact_q))], tol, float(abs(exact_q))
    ref = exact_of(40)
    with mpmath.workdps(70):
        diff = abs(mp(value) - ref)
        p2 = _power_of_two_near(ref) if ref != 0 else mpmath.mpf(0)
        doubt = abs(ref) * mpmath.mpf(2) ** -REFERENCE_BITS
        if ref != 0 and abs(abs(ref) - p2) <= doubt:
            steps = [mp(m.ulp(p2)), mp(m.ulp(p2 * (1 - mpmath.mpf(2) ** -80)))]
        else:
            steps = [mp(m.ulp(ref))]
        rel = diff / abs(ref) if ref != 0 else mpmath.inf
        return float(diff), float(rel), [float(diff / st_) for st_ in steps], tol, float(abs(ref))


def _check_errors(row_abs, row_rel, row_ulp, value: float, ref_special, exact_of, m, what,
                  exact_q: Fraction | None = None):
    if ref_special is not None or not math.isfinite(value):
        # conventions: NaN on either side -> nan; equal infinities -> 0; else inf
        if math.isnan(value) or (ref_special is not None and mpmath.isnan(ref_special)):
            assert math.isnan(num(row_ulp)), what
        elif ref_special is not None and value == float(ref_special):
            assert num(row_ulp) == 0, what
        else:
            assert num(row_ulp) == math.inf, what
        return
    abs_e, rel_e, ulps, tol, size = _my_errors(value, exact_of, m, exact_q)
    got = num(row_ulp)
    assert any(math.isclose(got, u, rel_tol=1e-9, abs_tol=tol) for u in ulps), (what, got, ulps)
    assert math.isclose(num(row_abs), abs_e, rel_tol=1e-9,
                        abs_tol=size * 2.0 ** (1 - REFERENCE_BITS)), what
    assert math.isclose(num(row_rel), rel_e, rel_tol=1e-9,
                        abs_tol=2.0 ** (2 - REFERENCE_BITS)), what


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_lse_ulp_error_is_recomputed_exactly(name):
    m = model(name)

    @budget(30)
    @given(toks=vectors(m, specials=True))
    def prop(toks):
        vals = [tk.rounded(m) for tk in toks]
        doc = run_json("lse", toks, "--dtype", name, "--method", "all")
        xs = [Fraction(v) if math.isfinite(v) else v for v in vals]
        special = special_lse(xs)
        finite = finite_part(xs)
        exact_q = finite[0] if special is None and len(finite) == 1 else None  # LSE(x) = x
        for row in doc["rows"]:
            _check_errors(row["abs_error"], row["rel_error"], row["ulp_error"], num(row["value"]),
                          special, lambda digits: exact_lse(xs, digits), m, row["method"],
                          exact_q)

    prop()


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_softmax_ulp_errors_are_recomputed_exactly(name):
    m = model(name)

    @budget(12)
    @given(toks=vectors(m, finite=True, max_len=12))
    def prop(toks):
        vals = [Fraction(tk.rounded(m)) for tk in toks]
        doc = run_json("softmax", toks, "--dtype", name, "--method", "all")
        # all equal: every element is exactly 1/n (the only rational softmax, see _my_errors)
        exact_q = Fraction(1, len(vals)) if len(set(vals)) == 1 else None
        cache: dict = {}

        def element(i, digits):
            if digits not in cache:
                cache[digits] = exact_softmax(vals, digits)
            return cache[digits][i]

        for row in doc["rows"]:
            for i, y in enumerate(row["value"]):
                _check_errors(row["abs_errors"][i], row["rel_errors"][i], row["ulp_errors"][i],
                              num(y), None, lambda digits, i=i: element(i, digits), m,
                              (row["method"], i), exact_q)
            worst = [num(e) for e in row["ulp_errors"]]
            if not any(math.isnan(e) for e in worst):
                assert num(row["ulp_error"]) == max(worst)

    prop()


# ============================================================================================
# 6. The reference agrees with a second, independent mpmath computation

def _decimal_is_right(text: str, ref, digits: int = 17, at_least: int | None = None) -> bool:
    """``text`` has <= ``digits`` significant digits and lies within half a unit of its last
    digit of the exact ``ref`` (within the tool's 96-bit accuracy).  Parsed
    by hand: exponents like e-2002829790073392691 (LSE(0, -4.6e18)) are beyond Decimal's range.

    ``at_least``: a shorter text is allowed, down to that many digits, if it is the correct
    rounding to its own length (the fast reference of long rows prints the digits its bound
    guarantees)."""
    import re

    if mpmath.isnan(ref) or mpmath.isinf(ref):
        return text == ("nan" if mpmath.isnan(ref) else ("inf" if ref > 0 else "-inf"))
    match = re.fullmatch(r"(-?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?", text)
    assert match, text
    sign, whole, fraction, exp10 = match.groups()
    fraction = fraction or ""
    mantissa = int(whole + fraction)
    shown = len(str(mantissa).strip("0") or "0")
    if shown > digits:
        return False
    if at_least is not None and len(str(mantissa).lstrip("0")) < digits:
        digits = max(at_least, len(str(mantissa).lstrip("0")))
    scale = int(exp10 or 0) - len(fraction)  # value = ±mantissa · 10**scale
    if ref == 0:
        return mantissa == 0
    with mpmath.workdps(80):
        value = (-1 if sign else 1) * mpmath.mpf(mantissa) * mpmath.mpf(10) ** scale
        e10 = int(mpmath.floor(mpmath.log10(abs(ref))))
        half = mpmath.mpf(10) ** (e10 - digits + 1) / 2
        # slack: the tool's reference is right to 96 bits, so a decimal tie may go either way
        return abs(value - ref) <= half + abs(ref) * mpmath.mpf(2) ** (1 - REFERENCE_BITS)


def _nearest_float64s(exact_of, exact_q: Fraction | None = None) -> list[float]:
    """The float64 nearest to the exact value (``exact_q`` when it is rational, else
    ``exact_of(40)``) -- or both neighbours when the exact value lies within the tool's
    documented accuracy (2**-96 relative) of the midpoint between them.  (Typed midpoints make
    that happen: LSE(1, 4096 + 2**-41) is the float64 midpoint 4096 + 2**-41 plus e**-4095.)"""
    f64 = model("float64")
    if exact_q is not None:
        return [f64.rn(exact_q)]
    ref = exact_of(40)
    if mpmath.isnan(ref):
        return [math.nan]
    if mpmath.isinf(ref):
        return [math.inf if ref > 0 else -math.inf]
    with mpmath.workdps(70):
        if ref == 0 or abs(ref) < mpmath.ldexp(1, -1080):
            return [math.copysign(0.0, ref)]
        if abs(ref) > mpmath.ldexp(1, 1030):
            return [math.copysign(math.inf, ref)]
        doubt = abs(ref) * mpmath.mpf(2) ** -REFERENCE_BITS
        return sorted({f64.rn(exact(ref - doubt)), f64.rn(exact(ref + doubt))})


def _same(got: float, wants: list[float]) -> bool:
    return any(got == w or (math.isnan(got) and math.isnan(w)) for w in wants)


@pytest.mark.parametrize("name", FORMAT_NAMES)
def test_reference_agrees_with_a_second_mpmath_computation(name):
    """The reported reference (17 significant digits, and the nearest float64) for the dtype's
    rounded inputs, and the top-level reference for the inputs as typed, against
    log(fsum(exp(x))) evaluated directly at >= 60 digits."""
    m = model(name)

    @budget(25)
    @given(toks=vectors(m, specials=True, max_len=300))
    def prop(toks):
        vals = [tk.rounded(m) for tk in toks]
        doc = run_json("lse", toks, "--dtype", name, "--method", "shifted")
        (row,) = doc["rows"]
        xs = [Fraction(v) if math.isfinite(v) else v for v in vals]
        ref = exact_lse(xs, 40)
        # rows of up to 64 values: the Ziv reference, 17 digits; longer: the fast reference
        # prints the digits its bound guarantees (at least 12 for these dtypes)
        assert _decimal_is_right(row["reference_decimal"], ref,
                                 at_least=None if len(toks) <= 64 else 12), (
            row["reference_decimal"], mpmath.nstr(ref, 25))
        single = finite_part(xs) if special_lse(xs) is None else []
        wants = _nearest_float64s(lambda digits: exact_lse(xs, digits),
                                  single[0] if len(single) == 1 else None)  # LSE(x) = x
        got = num(row["reference"])
        assert _same(got, wants), (got, wants)
        typed = [tk.q if tk.q is not None else tk.special for tk in toks]
        if doc.get("reference_typed") is not None:
            single = finite_part(typed) if special_lse(typed) is None else []
            wants = _nearest_float64s(lambda digits: exact_lse(typed, digits),
                                      single[0] if len(single) == 1 else None)
            got = num(doc["reference_typed"])
            assert _same(got, wants), (got, wants)

    prop()


# ============================================================================================
# 7. JSON: strict RFC 8259, the documented keys, for every command

#: The keys README's "JSON schema" documents (only ever added to).
TOP_KEYS = {"schema_version", "command", "rows"}
EVAL_TOP_KEYS = {"settings", "inputs", "notes", "problems", "smooth_version"}
#: The one row model (docs/json.md): the same keys for lse, softmax, bounds, underflow and the
#: pointwise functions (sigmoid, abs), whatever the input size.
FAMILY_ROW = {
    "row", "dtype", "method", "function", "temperature", "k", "input", "x", "hard", "exp",
    "value", "reference",
    "reference_decimal", "reference_typed", "abs_error", "rel_error", "ulp_error", "bits",
    "abs_errors", "rel_errors", "ulp_errors", "element_bits", "overflow", "underflow", "nan",
    "flushed_terms", "sumexp", "output_sum", "sum_error", "inputs_changed", "inputs_overflowed",
    "max", "argmax", "ties", "gap", "upper", "inside", "bound", "error_u", "exceeds_bound",
    "bound_rule", "accumulation", "acc_dtype", "peer", "status", "reason", "advice"}
ROW_KEYS = {
    "lse": FAMILY_ROW, "softmax": FAMILY_ROW, "bounds": FAMILY_ROW, "underflow": FAMILY_ROW,
    "exp-range": {"dtype", "largest_finite_x", "smallest_nonzero_x", "smallest_normal_x",
                  "ln_max", "max", "smallest_normal", "smallest_subnormal", "eps",
                  "numpy_agrees", "disagreements"},
}
SMOOTH_MAX_KEYS = {"k", "value", "reference", "reference_decimal", "gap", "bound", "inside",
                   "ulp_error", "overflow", "underflow", "nan"}
NUMBER_KEYS = {"value", "reference", "abs_error", "rel_error", "ulp_error", "max", "lse",
               "upper", "gap", "log_n", "largest_finite_x", "smallest_nonzero_x",
               "smallest_normal_x", "smallest_subnormal", "smallest_normal", "eps", "sumexp",
               "output_sum", "sum_error", "bound", "k"}


def _check_numbers(obj, path="$"):
    """Every number-valued key holds JSON numbers or "inf"/"-inf"/"nan" (never other text)."""
    if isinstance(obj, dict):
        for key, v in obj.items():
            if key in NUMBER_KEYS and v is not None:
                for x in (v if isinstance(v, list) else [v]):
                    if isinstance(x, (dict, list)):
                        continue
                    num(x)
            _check_numbers(v, f"{path}.{key}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _check_numbers(v, f"{path}[{i}]")


def check_document(doc: dict, command: str) -> None:
    assert TOP_KEYS <= doc.keys(), doc.keys()
    assert doc["schema_version"] == 2 and doc["command"] == command
    assert isinstance(doc["rows"], list)
    if command in ROW_KEYS:
        for row in doc["rows"]:
            missing = ROW_KEYS[command] - row.keys()
            assert not missing, (command, missing)
            if ROW_KEYS[command] is FAMILY_ROW:  # exactly these keys, nothing else
                assert row.keys() == FAMILY_ROW, (command, row.keys() ^ FAMILY_ROW)
            for flag in ("overflow", "underflow", "nan"):
                if flag in row:
                    assert isinstance(row[flag], bool)
            for s in row.get("smooth_max", []):
                assert SMOOTH_MAX_KEYS <= s.keys()
    if command in ("lse", "softmax", "bounds", "underflow"):
        assert EVAL_TOP_KEYS <= doc.keys(), doc.keys()
    if command == "softmax":
        for h in doc["hardmax"]:
            assert {"dtype", "max", "argmax", "hardmax", "ties"} <= h.keys()
    if command == "bounds":
        assert "k" in doc
    _check_numbers(doc)


def _value_commands() -> list[str]:
    """Every registered subcommand that takes positional values (new ones included)."""
    import typer.main

    group = typer.main.get_command(app)
    out = []
    for name, cmd in group.commands.items():
        if any(p.name == "values" for p in cmd.params):
            out.append(name)
    return out


@pytest.mark.parametrize("command", sorted(set(_value_commands()) | {"exp-range"}))
def test_json_is_strict_and_keeps_the_documented_keys(command):
    names = FORMAT_NAMES

    @budget(15)
    @given(data=st.data())
    def prop(data):
        name = data.draw(st.sampled_from(names), label="dtype")
        m = model(name)
        args = [command]
        if command != "exp-range":
            toks = data.draw(vectors(m, specials=True, max_len=60), label="values")
            args += [t.text for t in toks]
        if command == "bounds":
            args += ["--k", data.draw(st.sampled_from(["1", "0.5", "10"]))]
        args += ["--dtype", name, "--json"]
        if data.draw(st.booleans(), label="--check"):
            args.append("--check")
        result = invoke(args)
        if result.exit_code == 2:  # refused (e.g. bounds of inf): one line, nothing on stdout
            assert result.stdout == ""
            lines = result.stderr.splitlines()
            assert len(lines) == 1 and lines[0].startswith("smooth: error: "), result.stderr
            return
        assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
        assert result.stdout.count("\n") == 1 and result.stdout.endswith("\n")  # one document
        doc = loads_strict(result.stdout)
        check_document(doc, command)
        if "--check" in args:
            assert (result.exit_code == 1) == bool(doc["problems"]), doc["problems"]

    prop()


# ============================================================================================
# 8. Arbitrary argument lists: exit 0, 1 or 2, never a traceback

def _options(command: str) -> list[str]:
    """The real options of a command, read from its click parameters (so new ones appear)."""
    import click
    import typer.main

    group = typer.main.get_command(app)
    cmd = group.commands[command]
    out = []
    for p in cmd.params:
        if isinstance(p, click.Option):
            out.extend(o for o in p.opts if o.startswith("--"))
    return out


_KNOWN_COST = {"lse", "softmax", "bounds", "underflow", "exp-range"}


def _fuzz_tokens() -> st.SearchStrategy:
    import typer.main

    group = typer.main.get_command(app)
    commands = sorted(group.commands)
    # Options whose value sets the amount of work (--steps, --rows ...) are left to the commands'
    # own tests; every other option of every command takes part.
    opts = sorted({o for c in commands for o in _options(c)
                   if c in _KNOWN_COST or o in ("--json", "--check", "--dtype", "--method")})
    values = ["1", "-800", "710", "12", "0", "-0", "inf", "-inf", "nan", "1e400", "0x1p3", "١٢",
              "1,5", "", "1_0", "float16", "float32", "bfloat16", "all", "naive", "shifted",
              "pairwise", "-", "--", "-1", "0.5", "1e-400", "1e-9999", "1e30", "abc", "--help",
              "-h", "--version"]
    word = st.one_of(st.sampled_from(opts), st.sampled_from(values), st.text(max_size=6))
    anything = st.lists(st.one_of(st.sampled_from(commands), word), max_size=7)
    # a real command first, so that parsing and evaluation are reached, not only the group
    command_first = st.tuples(st.sampled_from(commands), st.lists(word, max_size=7)).map(
        lambda t: [t[0], *t[1]])
    # a command with numbers and flags only: reaches the evaluation, --check's exit 1 included
    numbers = ["1", "-800", "710", "12", "0", "-0", "inf", "-inf", "nan", "0.5", "-1", "1e-400"]
    flags = ["--json", "--check", "--dtype=all", "--method=all", "--sum=pairwise",
             "--max-ulp=0.5", "--k=2", "--k=1e-9999", "--k=1e30"]
    evaluating = st.tuples(st.sampled_from(sorted(_KNOWN_COST - {"exp-range"})),
                           st.lists(st.sampled_from(numbers + flags), min_size=1, max_size=6)
                           ).map(lambda t: [t[0], *t[1]])
    return st.one_of(command_first, anything, evaluating)


def run_main(args: list[str]) -> tuple[int, str, str]:
    """The console-script entry point ``smoothcli.cli.main`` in-process: (status, out, err)."""
    from smoothcli.cli import main

    out, err = io.StringIO(), io.StringIO()
    stdin = io.TextIOWrapper(io.BytesIO(b""))  # empty, not a terminal
    old = sys.argv, sys.stdin
    sys.argv, sys.stdin = ["smooth", *args], stdin
    code: Any = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
            except SystemExit as e:
                code = e.code
    finally:
        sys.argv, sys.stdin = old
    return (0 if code is None else code), out.getvalue(), err.getvalue()


@budget(150)
@given(args=_fuzz_tokens())
def test_cli_fed_arbitrary_arguments_exits_0_1_or_2_without_traceback(args):
    note(repr(args))
    result = invoke(args, input="")
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    code, out, err = run_main(args)
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in out + err
    if code == 2:
        # one line for every error, except bare `smooth` (help on stderr, as click does)
        lines = err.splitlines()
        assert lines and (lines[-1].startswith("smooth: error: ") or "Usage:" in err), err
        if lines[-1].startswith("smooth: error: "):
            assert len(lines) == 1, err
