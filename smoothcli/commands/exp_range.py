"""``smooth exp-range``: the interval of x where exp(x) is finite, nonzero and normal, per dtype.

The thresholds are exact.  With correct rounding to nearest (ties to even) of exp(x):

* exp(x) rounds to ±inf (or NaN without infinities) iff exp(x) >= max + ulp(max)/2, so the
  largest finite x is the largest value of the dtype below ln(max + ulp(max)/2);
* exp(x) rounds to 0 iff exp(x) <= smallest_subnormal/2 (the tie goes to the even 0), so the
  smallest nonzero x is the smallest value above ln(smallest_subnormal/2);
* exp(x) rounds to a normal number iff exp(x) >= 2**emin - smallest_subnormal/2 (the midpoint
  between the largest subnormal and 2**emin, whose significand is even).

exp(x) is irrational for every nonzero rational x (Lindemann), so it never lands on a midpoint
and the directed roundings of the mpmath logarithms below decide each threshold.  The command then
asks numpy's own exp at each threshold and at the next representable value beyond it, and reports
any disagreement (numpy's float16 exp is float32's exp rounded again; libm's exp is not always
correctly rounded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Sequence

from smoothcli.core.formats import FloatFormat
from smoothcli.reference.exact import converge, decimal_text, exact_fraction
from smoothcli.report.model import Column, Report, Section
from smoothcli.core.rounding import DOWN, UP, round_fraction


@dataclass
class ExpRangeRow:
    dtype: str
    largest_finite_x: float
    smallest_nonzero_x: float
    smallest_normal_x: float
    ln_max: float
    ln_max_decimal: str
    max: float
    smallest_normal: float
    smallest_subnormal: float
    eps: float
    numpy_agrees: bool
    disagreements: list[str] = field(default_factory=list)
    overflow_value: str = "inf"  # what exp(x) beyond largest_finite_x gives: inf, or nan
    # for float8_e4m3fn, which has no infinity

    def problems(self, max_ulp: float | None) -> list[str]:
        return [f"{self.dtype}: numpy's exp disagrees: {d}" for d in self.disagreements]


def _ln(q: Fraction):
    """ln(q) for a positive rational, to the reference's precision."""
    import mpmath

    return converge(lambda: mpmath.log(mpmath.mpf(q.numerator) / q.denominator))


def thresholds(fmt: FloatFormat) -> dict[str, float]:
    """The three exact thresholds of exp for ``fmt`` (see the module docstring)."""
    top_ulp = fmt.ulp(fmt.max_finite)
    over = _ln(fmt.max_finite + top_ulp / 2)
    zero = _ln(fmt.smallest_subnormal / 2)
    normal = _ln(fmt.smallest_normal - fmt.smallest_subnormal / 2)
    largest = round_fraction(exact_fraction(over), fmt, DOWN)
    if Fraction(largest) == exact_fraction(over):  # cannot happen (ln of a rational ≠ 0 is
        raise AssertionError("threshold is representable")  # irrational) but never guess
    return {"largest_finite_x": largest,
            "smallest_nonzero_x": round_fraction(exact_fraction(zero), fmt, UP),
            "smallest_normal_x": round_fraction(exact_fraction(normal), fmt, UP)}


def numpy_check(fmt: FloatFormat, t: dict[str, float]) -> list[str]:
    """Compare numpy's exp with the exact thresholds, at them and one step beyond."""
    import numpy as np

    d = fmt.np
    tiny = d.type(float(fmt.smallest_normal))
    top = float(fmt.max_finite)
    out = []
    with np.errstate(all="ignore"):
        def exp(x):
            return np.exp(d.type(x))

        def step(x, direction):
            # Toward ±max, not ±inf: float8_e4m3fn has no infinity (d.type(inf) is NaN).
            return float(np.nextafter(d.type(x), d.type(math.copysign(top, direction))))

        x = t["largest_finite_x"]
        nxt = step(x, math.inf)
        if not np.isfinite(exp(x)):
            out.append(f"exp({x!r}) is {exp(x)!r}, exactly it rounds to a finite value")
        if np.isfinite(exp(nxt)):
            out.append(f"exp({nxt!r}) is {exp(nxt)!r}, exactly it overflows")
        x = t["smallest_nonzero_x"]
        prev = step(x, -math.inf)
        if exp(x) == 0:
            out.append(f"exp({x!r}) is 0, exactly it rounds to the smallest subnormal")
        if exp(prev) != 0:
            out.append(f"exp({prev!r}) is {exp(prev)!r}, exactly it rounds to 0")
        x = t["smallest_normal_x"]
        prev = step(x, -math.inf)
        if exp(x) < tiny:
            out.append(f"exp({x!r}) is {exp(x)!r}, exactly it rounds to a normal number")
        if exp(prev) >= tiny:
            out.append(f"exp({prev!r}) is {exp(prev)!r}, exactly it rounds to a subnormal")
    return out


def exp_range_report(formats: Sequence[FloatFormat], full: bool = False) -> Report:
    """The thresholds of every dtype in ``formats``; ``full``: today's table of every column
    (ln(max), max, smallest normal and subnormal, eps) instead of the compact one-row-per-dtype
    view.  The JSON is the same either way."""
    import mpmath

    rows = []
    for fmt in formats:
        t = thresholds(fmt)
        ln_max = converge(lambda: mpmath.log(mpmath.mpf(fmt.max_finite.numerator)
                                             / fmt.max_finite.denominator))
        dis = numpy_check(fmt, t)
        rows.append(ExpRangeRow(
            dtype=fmt.name, **t, ln_max=float(ln_max), ln_max_decimal=decimal_text(ln_max),
            max=float(fmt.max_finite), smallest_normal=float(fmt.smallest_normal),
            smallest_subnormal=float(fmt.smallest_subnormal), eps=float(fmt.eps),
            numpy_agrees=not dis, disagreements=dis,
            overflow_value="inf" if fmt.has_inf else "nan"))
    section = _section(rows, formats) if full else _compact_section(rows, formats)
    report = Report("exp-range", rows, [section], _notes(rows), {})
    if not full:
        from smoothcli.report.family import WRAP

        report.wrap = WRAP
    return report


#: Significant digits up to which the compact view shows a threshold's exact decimal value.
COMPACT_DIGITS = 10


def short_text(v: float, fmt: FloatFormat) -> str:
    """``v`` (a value of ``fmt``) for the compact view: its exact decimal when that has at most
    :data:`COMPACT_DIGITS` significant digits (every float16, bfloat16 and float8 threshold), else
    the shortest decimal that rounds back to it in ``fmt`` (float32's 88.72283)."""
    from decimal import Decimal

    from smoothcli._format.table import fmt_exact

    if not math.isfinite(v) or len(Decimal(v).as_tuple().digits) <= COMPACT_DIGITS:
        return fmt_exact(v)
    text = str(fmt.np.type(v))
    return text + ".0" if text.lstrip("-").isdigit() else text


def _compact_section(rows: list[ExpRangeRow], formats: Sequence[FloatFormat]) -> Section:
    """One row per dtype: the three thresholds, shortened (``--full`` and ``--json``: exact).
    numpy's disagreements, if any, are in the notes."""
    cols = [Column("dtype", "dtype"),
            Column("largest_finite_x", "finite up to x", "reference"),
            Column("overflow_value", "beyond: exp", "text"),
            Column("smallest_normal_x", "normal from x", "reference"),
            Column("smallest_nonzero_x", "exp > 0 from x", "reference")]
    by_name = {f.name: f for f in formats}
    out: list[dict[str, Any]] = []
    for r in rows:
        fmt = by_name[r.dtype]
        out.append({"dtype": r.dtype, "overflow_value": r.overflow_value,
                    **{k: short_text(getattr(r, k), fmt) for k in
                       ("largest_finite_x", "smallest_normal_x", "smallest_nonzero_x")}})
    return Section("the range of exp", cols, out,
                   "exp(x) is finite for every x up to 'finite up to', normal from 'normal from' "
                   "(subnormal below it) and nonzero from 'exp > 0 from'; thresholds are x values "
                   "of each dtype, shortened (exact: --full, --json; ln(max), max, eps: --full)")


def _section(rows: list[ExpRangeRow], formats: Sequence[FloatFormat]) -> Section:
    cols = [Column("dtype", "dtype"),
            Column("smallest_nonzero_x", "exp(x) > 0 from x =", "exact"),
            Column("smallest_normal_x", "normal from x =", "exact"),
            Column("largest_finite_x", "finite up to x =", "exact"),
            Column("overflow_value", "beyond: exp =", "text"),
            Column("ln_max", "ln(max)", "reference"),
            Column("max", "max", "exact"), Column("smallest_normal", "smallest normal", "exact"),
            Column("smallest_subnormal", "smallest subnormal", "exact"),
            Column("eps", "eps", "exact"), Column("numpy_agrees", "numpy exp agrees", "bool")]
    digits = {f.name: f.max_digits10 for f in formats}
    out: list[dict[str, Any]] = []
    for r in rows:
        out.append({**{c.key: getattr(r, c.key, None) for c in cols},
                    "ln_max": r.ln_max_decimal, "_digits": digits[r.dtype]})
    return Section("the range of exp", cols, out,
                   "thresholds are exact (x values of each dtype); exp(x) is finite for every x "
                   "up to 'finite up to', nonzero from 'exp(x) > 0 from'")


def _notes(rows: list[ExpRangeRow]) -> list[str]:
    notes = [f"{r.dtype} has no infinity: exp(x) for x above {r.largest_finite_x!r} rounds to "
             f"NaN, not inf (so an overflow shows as NaN there)"
             for r in rows if r.overflow_value == "nan"]
    for r in rows:
        for d in r.disagreements:
            notes.append(f"{r.dtype}: numpy disagrees: {d}")
    return notes
