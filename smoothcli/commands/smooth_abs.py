"""``smooth abs``: |x| against its smooth approximation f_k(x) = (2/k)·log cosh(kx/2), and the
smooth max (x + y + f_k(x − y))/2 = (1/k)·log(e^(kx) + e^(ky)) − (log 2)/k.

The derivation and the integration constant C = −(2/k)·log 2 are in
:mod:`smoothcli.methods.smooth_abs`.  Both are pointwise functions of the one engine
(``smooth_abs``: every x a point; ``smooth_max2``: the pair (x, y) one point), so their rows are
rows of the row model (JSON ``rows``: ``function`` "smooth_abs" per (x, dtype, k, method), and
"smooth_max2" per (dtype, k, method) when exactly two values are given), with status, reason and
verified advice; ``gap``, ``upper`` and ``inside`` hold |x| − f_k(x) (exact), |x| and whether the
computed value lies in [|x| − 2·log(2)/k, |x|].
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Any, Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.errors import InputError
from smoothcli.core.formats import FloatFormat
from smoothcli.core.numbers import Number
from smoothcli.core.rounding import DOWN, round_fraction
from smoothcli.methods.smooth_abs import FORMS, SMOOTH_MAX_METHODS
from smoothcli.reference.exact import converge, decimal_text, exact_fraction, to_mpf
from smoothcli.report.model import Column, Report

LOG2 = math.log(2)


def abs_report(numbers: Sequence[Number], ks: Sequence[Number], settings: Settings,
               full: bool = False) -> Report:
    """f_k(x) for each input, k and (dtype, method); the smooth max when two values are given.
    ``full``: every column instead of the compact view."""
    from smoothcli.engine.evaluate import Plan, Transform, evaluate
    from smoothcli.engine.sources import arguments
    from smoothcli.report.pointwise import Part, build

    if any(x.exact is None for x in numbers):
        raise InputError("abs needs finite values (the gap to |x| of inf or nan is not a number)")
    from smoothcli.core.rounding import round_number

    for fmt in settings.dtypes:  # before any reference: f_k of an input that overflowed is inf
        if not all(math.isfinite(round_number(x, fmt)) for x in numbers):
            raise InputError(f"an input overflows {fmt.name}: abs needs finite values")
    batch = arguments(numbers)
    transforms = [Transform("k", k) for k in ks]
    ev = evaluate(Plan("smooth_abs", list(settings.dtypes), list(settings.methods),
                       peers=list(settings.peers), transforms=transforms), batch)
    bounds, outside = _bounds(ev)
    parts = [Part(ev, bounds, outside, _abs_columns, _abs_cells(bounds),
                  "|x| and its smooth approximation f_k(x) = (2/k)·log cosh(kx/2)",
                  None if full else _outside_caption(ev, bounds))]
    if len(numbers) == 2:
        pair = evaluate(Plan("smooth_max2", list(settings.dtypes), list(SMOOTH_MAX_METHODS),
                             transforms=transforms), batch)
        x, y = (n.text for n in numbers)
        parts.append(Part(pair, columns=_max_columns, cells=_max_cells,
                          title=f"max({x}, {y}) and its smooth form (x + y + f_k(x − y))/2"))
    notes = [
        "f_k: |x|' = 2H(x) − 1 with the unit step H replaced by σ(kx), integrated: "
        "f_k(x) = (2/k)·log(1 + e^(kx)) − x + C",
        "integration constant C = −(2/k)·log 2 (so that f_k(0) = 0): f_k(x) = "
        "(2/k)·log cosh(kx/2), and 0 ≤ |x| − f_k(x) < 2·log(2)/k; the seed's C = 0 gives "
        "f_k + (2/k)·log 2 ≥ |x| instead",
        "methods: " + "; ".join(f"{m}: {FORMS[m]}" for m in settings.methods if m in FORMS),
        "inside: the computed value lies in [|x| − 2·log(2)/k, |x|] ∩ [0, ∞), the lower end "
        "rounded down to the row's dtype (a correctly rounded f_k(x) always does)"]
    if len(numbers) == 2:
        notes.append("max(x, y) = (x + y + |x − y|)/2 → (x + y + f_k(x − y))/2 = "
                     "(1/k)·log(e^(kx) + e^(ky)) − (log 2)/k: the seed's eq. (2) up to the "
                     "constant C/2 = −(log 2)/k (exactly eq. (2) with the seed's C = 0)")
    else:
        notes.append("give exactly two values to also see max(x, y) and its smooth form")
    report = build("abs", parts, settings, notes,
                   {"k": [float(k.exact) for k in ks],
                    "integration_constant": "-(2/k)*log(2)", "max_constant": "-log(2)/k"}, full)
    if not full:
        last = report.sections[-1]
        last.caption = "\n".join(filter(None, [
            last.caption, "--full: every column (|x|, the gap |x| − f_k and its bound "
            "2·log(2)/k, the computed exponential, the seed's form of the max); --json: every "
            "field"]))
    return report


def _bounds(ev: Any) -> tuple[dict, dict]:
    """Per (point, series): (exact |x| − f_k(x), |x|, inside); per series: points outside."""
    bounds: dict = {}
    outside: dict = {}
    for s in ev.series:
        a = s.arrays
        for q in range(ev.rows):
            x, v = float(a["x"][q]), float(a["value"][q])
            ok = _inside(v, x, s.param, s.format)
            bounds[(q, id(s))] = (float(s.extras[q][0]), abs(x), ok)
            if not ok and math.isfinite(v):
                outside[id(s)] = outside.get(id(s), 0) + 1
    return bounds, outside


def _abs_columns(full: bool) -> list[Column]:
    """--full: the gap, its bound and inside; the compact view says only where a value is
    outside (the part's caption)."""
    if not full:
        return []
    return [Column("gap", "|x| − f_k", "value"), Column("bound", "2·log(2)/k", "value"),
            Column("inside", "inside", "bool")]


def _outside_caption(ev: Any, bounds: dict) -> str | None:
    """One line per (dtype, method, k) with points outside [|x| − 2·log(2)/k, |x|]."""
    from smoothcli.report.rows import point_input, where

    lines = []
    for s in ev.series:
        xs = [point_input(ev, q) for q in range(ev.rows) if bounds[(q, id(s))][2] is False]
        if xs:
            lines.append(f"{where(s)}: outside [|x| − 2·log(2)/k, |x|] at x = {', '.join(xs)}")
    return "\n".join(lines) or None


def _abs_cells(bounds: dict):
    def cells(s: Any, q: int) -> dict:
        gap, _, inside = bounds[(q, id(s))]
        return {"gap": gap, "bound": 2 * LOG2 / s.param, "inside": inside}

    return cells


def _max_columns(full: bool) -> list[Column]:
    if not full:
        return []
    return [Column("seed_form", "(1/k)·log(e^kx + e^ky)", "reference"),
            Column("constant", "−log(2)/k", "value")]


def _max_cells(s: Any, q: int) -> dict:
    return {"seed_form": decimal_text(s.extras[q][0]), "constant": -LOG2 / s.param}


def _inside(v: float, x: float, kd: float, fmt: FloatFormat) -> bool:
    """v within [|x| − 2·log(2)/k, |x|] ∩ [0, ∞), the lower end rounded down to the dtype (|x|
    is a value of the dtype).  Rounding is monotone, so a correctly rounded f_k(x) always is
    inside; rounding the lower end down also admits a faithfully rounded (< 1 ULP) f_k(x) next
    to it (for large k|x| the gap is 2·log(2)/k to within e^(−k|x|))."""
    if not math.isfinite(v):
        return False
    lower_exact = max(Fraction(0), Fraction(abs(x)) - _bound(kd))
    return round_fraction(lower_exact, fmt, DOWN) <= v <= abs(x)


@lru_cache(maxsize=None)
def _bound(kd: float) -> Fraction:
    """2·log(2)/k, exactly enough (96 bits) to decide the rounding of |x| − it."""
    import mpmath

    return exact_fraction(converge(lambda: 2 * mpmath.log(2) / to_mpf(kd)))
