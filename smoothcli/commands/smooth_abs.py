"""``smooth abs``: |x| against its smooth approximation f_k(x) = (2/k)·log cosh(kx/2), and the
smooth max (x + y + f_k(x − y))/2 = (1/k)·log(e^(kx) + e^(ky)) − (log 2)/k.

The derivation and the integration constant C = −(2/k)·log 2 are in :mod:`smoothcli.methods.smooth_abs`.
Rows (JSON ``rows``): one per (dtype, k, input, method) with ``function: "abs"``, and, when exactly
two values are given, one per (dtype, k, method) with ``function: "max"``.  Both carry the
standard keys (value, reference, errors, flags) so ``--check`` and ``--max-ulp`` apply to all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any, Sequence

from smoothcli.commands._common import Settings
from smoothcli.report.family import (WRAP, changed_section, compact_changed_entries,
                                     typed_entries)
from smoothcli.commands.sigmoid import exact_once, point_problems
from smoothcli.core.formats import FloatFormat
from smoothcli.core.errors import InputError
from smoothcli.measure.errors import errors
from smoothcli.measure.flags import pointwise_flags
from smoothcli.core.numbers import Number
from smoothcli.core.rounding import round_inputs
from smoothcli.reference.exact import converge, decimal_text, exact_fraction, to_mpf
from smoothcli.report.model import Column, Report, Section, flag_names
from smoothcli.core.rounding import DOWN, round_fraction, round_number
from smoothcli.methods.smooth_abs import (FORMS, SMOOTH_ABS_METHODS, SMOOTH_MAX_METHODS,
                                  smooth_abs_reference, smooth_max_reference)

LOG2 = math.log(2)


@dataclass
class AbsRow:
    """f_k(x) for one input and one k, in one (dtype, method)."""

    function: str  # "abs"
    dtype: str
    k: float  # k as rounded to the dtype
    method: str
    input: str
    x: float  # the input in the dtype
    hard: float  # |x|
    value: float
    reference: float
    reference_decimal: str
    abs_error: float
    rel_error: float
    ulp_error: float
    gap: float  # exact |x| − f_k(x), in [0, 2·log(2)/k)
    bound: float  # 2·log(2)/k
    inside: bool  # the computed value lies in [|x| − bound, |x|] (∩ [0, ∞)) rounded to the dtype
    overflow: bool
    underflow: bool
    nan: bool
    exp: float  # the exponential (cosh for the cosh form) the method computed

    def problems(self, max_ulp: float | None) -> list[str]:
        where = f"{self.dtype} {self.method} k={self.k:g} f_k({self.input})"
        out = point_problems(where, self, max_ulp)
        if not self.inside and not (self.overflow or self.nan):
            out.append(f"{where}: {self.value!r} outside [|x| − 2·log(2)/k, |x|]")
        return out


@dataclass
class MaxRow:
    """The smooth max of two values for one k, in one (dtype, method)."""

    function: str  # "max"
    dtype: str
    k: float
    method: str  # abs_form | lse_form
    x: float
    y: float
    hard: float  # max(x, y)
    value: float
    reference: float  # exact (x + y + f_k(x − y))/2
    reference_decimal: str
    abs_error: float
    rel_error: float
    ulp_error: float
    seed_form: float  # exact (1/k)·log(e^(kx) + e^(ky)): the seed's eq. (2), C = 0
    seed_form_decimal: str
    constant: float  # −log(2)/k = reference − seed_form
    overflow: bool
    underflow: bool
    nan: bool

    def problems(self, max_ulp: float | None) -> list[str]:
        return point_problems(f"{self.dtype} {self.method} k={self.k:g} max({self.x!r}, "
                              f"{self.y!r})", self, max_ulp)


def abs_report(numbers: Sequence[Number], ks: Sequence[Number], settings: Settings,
               full: bool = False) -> Report:
    """f_k(x) for each input, k and (dtype, method); the smooth max when two values are given.
    ``full``: every column instead of the compact view."""
    if any(x.exact is None for x in numbers):
        raise InputError("abs needs finite values (the gap to |x| of inf or nan is not a number)")
    rounded = [round_inputs(numbers, fmt) for fmt in settings.dtypes]
    cache: dict[tuple, Any] = {}
    rows: list[Any] = []
    for kn in ks:
        for fmt, inputs in zip(settings.dtypes, rounded):
            if not all(math.isfinite(v) for v in inputs.values):
                raise InputError(f"an input overflows {fmt.name}: abs needs finite values")
            kd = round_number(kn, fmt)
            if kd == 0 or not math.isfinite(kd):
                raise InputError(f"--k {kn.text} is {kd!r} in {fmt.name}: k must stay finite "
                                 "and > 0 there")
            rows.extend(_abs_rows(numbers, inputs, fmt, kd, settings.methods, cache))
    max_rows: list[MaxRow] = []
    if len(numbers) == 2:
        for kn in ks:
            for fmt, inputs in zip(settings.dtypes, rounded):
                max_rows.extend(_max_rows(inputs, fmt, round_number(kn, fmt)))
    rows.extend(max_rows)
    entries = typed_entries(numbers, rounded)
    changed = (changed_section(entries, [r.dtype for r in rounded]) if full else
               compact_changed_entries(entries, settings.dtypes))
    sections = [changed] if changed is not None else []
    abs_rows = [r for r in rows if r.function == "abs"]
    sections.append(_abs_section(abs_rows, settings) if full else
                    _compact_abs_section(abs_rows, settings))
    if max_rows:
        sections.append(_max_section(max_rows, settings) if full else
                        _compact_max_section(max_rows, settings))
    notes = [
        "f_k: |x|' = 2H(x) − 1 with the unit step H replaced by σ(kx), integrated: "
        "f_k(x) = (2/k)·log(1 + e^(kx)) − x + C",
        "integration constant C = −(2/k)·log 2 (so that f_k(0) = 0): f_k(x) = "
        "(2/k)·log cosh(kx/2), and 0 ≤ |x| − f_k(x) < 2·log(2)/k; the seed's C = 0 gives "
        "f_k + (2/k)·log 2 ≥ |x| instead",
        "methods: " + "; ".join(f"{m}: {FORMS[m]}" for m in settings.methods),
        "inside: the computed value lies in [|x| − 2·log(2)/k, |x|] ∩ [0, ∞), the lower end "
        "rounded down to the row's dtype (a correctly rounded f_k(x) always does)"]
    if max_rows:
        notes.append("max(x, y) = (x + y + |x − y|)/2 → (x + y + f_k(x − y))/2 = "
                     "(1/k)·log(e^(kx) + e^(ky)) − (log 2)/k: the seed's eq. (2) up to the "
                     "constant C/2 = −(log 2)/k (exactly eq. (2) with the seed's C = 0)")
    elif len(numbers) != 2:
        notes.append("give exactly two values to also see max(x, y) and its smooth form")
    if not full:  # a caption (the JSON's notes are the same in both views)
        last = sections[-1]
        last.caption = "\n".join(filter(None, [
            last.caption, "--full: every column (|x|, the gap |x| − f_k and its bound "
            "2·log(2)/k, the computed exponential, the seed's form of the max); --json: every "
            "field"]))
    report = Report("abs", rows, sections, notes,
                    {"settings": settings.as_json(), "inputs": entries,
                     "k": [float(k.exact) for k in ks],
                     "integration_constant": "-(2/k)*log(2)", "max_constant": "-log(2)/k"})
    report.wrap = None if full else WRAP
    return report


def _abs_rows(numbers, inputs, fmt: FloatFormat, kd: float, methods: Sequence[str],
              cache: dict) -> list[AbsRow]:
    refs = []
    for v in inputs.values:
        key = ("abs", v, kd)
        if key not in cache:
            cache[key] = smooth_abs_reference(v, kd)
        refs.append(cache[key])
    k = fmt.np.type(kd)
    out = []
    for method in methods:
        trace = SMOOTH_ABS_METHODS[method](inputs.array, k)
        for i, x in enumerate(numbers):
            xi, v = inputs.values[i], float(trace.value[i])
            f, gap = refs[i]
            bound = 2 * LOG2 / kd
            err = errors(v, f, fmt)
            fl = pointwise_flags(xi, trace.exp[i], [s[i] for s in trace.steps.values()], v, f,
                                 fmt)
            out.append(AbsRow(
                function="abs", dtype=fmt.name, k=kd, method=method, input=x.text, x=xi,
                hard=abs(xi), value=v, reference=float(f), reference_decimal=decimal_text(f),
                abs_error=err.abs_error, rel_error=err.rel_error, ulp_error=err.ulp_error,
                gap=float(gap), bound=bound, inside=_inside(v, xi, kd, fmt),
                overflow=fl.overflow, underflow=fl.underflow, nan=fl.nan,
                exp=float(trace.exp[i])))
    return out


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


def _max_rows(inputs, fmt: FloatFormat, kd: float) -> list[MaxRow]:
    x, y = inputs.values
    ref, seed = smooth_max_reference(x, y, kd)
    k = fmt.np.type(kd)
    xa, ya = inputs.array[:1], inputs.array[1:]
    out = []
    for method, fn in SMOOTH_MAX_METHODS.items():
        trace = fn(xa, ya, k)
        v = float(trace.value[0])
        err = errors(v, ref, fmt)
        fl = pointwise_flags(max(x, y), trace.exp[0], [], v, ref, fmt)
        out.append(MaxRow(
            function="max", dtype=fmt.name, k=kd, method=method, x=x, y=y, hard=max(x, y),
            value=v, reference=float(ref), reference_decimal=decimal_text(ref),
            abs_error=err.abs_error, rel_error=err.rel_error, ulp_error=err.ulp_error,
            seed_form=float(seed), seed_form_decimal=decimal_text(seed),
            constant=-LOG2 / kd, overflow=fl.overflow, underflow=fl.underflow, nan=fl.nan))
    return out


def _abs_section(rows: list[AbsRow], settings: Settings) -> Section:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("input", "x"), Column("k", "k", "value"), Column("dtype", "dtype"),
            Column("hard", "|x|", "value"), Column("method", "method"),
            Column("value", "f_k(x)", "value"), Column("reference", "reference", "reference"),
            Column("ulp_error", "ULP err", "error"), Column("gap", "|x| − f_k", "value"),
            Column("bound", "2·log(2)/k", "value"), Column("inside", "inside", "bool"),
            Column("exp", "e (computed)", "value"), Column("flags", "flags", "flags")]
    order: dict[str, int] = {}
    for r in rows:
        order.setdefault(r.input, len(order))
    table = [{"input": r.input, "k": r.k, "dtype": r.dtype, "hard": r.hard, "method": r.method,
              "value": r.value, "reference": r.reference_decimal, "ulp_error": r.ulp_error,
              "gap": r.gap, "bound": r.bound, "inside": r.inside, "exp": r.exp,
              "flags": flag_names(r), "_digits": digits.get(r.dtype, 17)}
             for r in sorted(rows, key=lambda r: (order[r.input], r.k))]
    return Section("|x| and its smooth approximation f_k(x) = (2/k)·log cosh(kx/2)", cols, table)


def _max_section(rows: list[MaxRow], settings: Settings) -> Section:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("k", "k", "value"), Column("dtype", "dtype"),
            Column("hard", "max(x, y)", "value"), Column("method", "method"),
            Column("value", "smooth max", "value"), Column("reference", "reference", "reference"),
            Column("ulp_error", "ULP err", "error"),
            Column("seed_form", "(1/k)·log(e^kx + e^ky)", "reference"),
            Column("constant", "−log(2)/k", "value"), Column("flags", "flags", "flags")]
    table = [{"k": r.k, "dtype": r.dtype, "hard": r.hard, "method": r.method, "value": r.value,
              "reference": r.reference_decimal, "ulp_error": r.ulp_error,
              "seed_form": r.seed_form_decimal, "constant": r.constant, "flags": flag_names(r),
              "_digits": digits.get(r.dtype, 17)} for r in rows]
    x, y = rows[0].x, rows[0].y
    return Section(f"max({x!r}, {y!r}) = (x + y + |x − y|)/2 and its smooth form", cols, table,
                   "abs_form: (x + y + f_k(x − y))/2 (stable f_k); lse_form: "
                   "(1/k)·LSE(kx, ky) − (log 2)/k (shifted LSE); reference = exact "
                   "(1/k)·log(e^kx + e^ky) − (log 2)/k")


def _compact_abs_section(rows: list[AbsRow], settings: Settings) -> Section:
    """The default view: per (x, k, dtype, method) f_k(x), its ULP error, whether it lies in
    [|x| − 2·log(2)/k, |x|] and its flags; the exact value once per (x, k)."""
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("input", "x"), Column("k", "k", "value"), Column("dtype", "dtype"),
            Column("method", "method"), Column("value", "f_k(x)", "value"),
            Column("ulp_error", "ULP err", "error"), Column("inside", "inside", "bool"),
            Column("flags", "flags", "flags"), Column("exact", "exact", "reference")]
    order: dict[str, int] = {}
    for r in rows:
        order.setdefault(r.input, len(order))
    table = [{"input": r.input, "k": r.k, "dtype": r.dtype, "method": r.method,
              "value": r.value, "exact": r.reference_decimal, "ulp_error": r.ulp_error,
              "inside": r.inside, "flags": flag_names(r), "_digits": digits.get(r.dtype, 17),
              "group": (r.input, r.k)}
             for r in sorted(rows, key=lambda r: (order[r.input], r.k))]
    exact_once(table, "group")
    title = "|x| and its smooth approximation f_k(x) = (2/k)·log cosh(kx/2)"
    if len({r.k for r in rows}) == 1:  # one k: said once in the title
        cols = [c for c in cols if c.key != "k"]
        title += f", k = {rows[0].k:g}"
    return Section(title, cols, table)


def _compact_max_section(rows: list[MaxRow], settings: Settings) -> Section:
    """The default view of the smooth max: value, ULP error and flags; the exact value once
    per k."""
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("k", "k", "value"), Column("dtype", "dtype"), Column("method", "method"),
            Column("value", "smooth max", "value"), Column("ulp_error", "ULP err", "error"),
            Column("flags", "flags", "flags"), Column("exact", "exact", "reference")]
    table = [{"k": r.k, "dtype": r.dtype, "method": r.method, "value": r.value,
              "exact": r.reference_decimal, "ulp_error": r.ulp_error, "flags": flag_names(r),
              "_digits": digits.get(r.dtype, 17)} for r in rows]
    exact_once(table, "k")
    x, y = rows[0].x, rows[0].y
    title = f"max({x!r}, {y!r}) = {max(x, y)!r} and its smooth form (x + y + f_k(x − y))/2"
    if len({r.k for r in rows}) == 1:
        cols = [c for c in cols if c.key != "k"]
        title += f", k = {rows[0].k:g}"
    return Section(title, cols, table,
                   "abs_form: (x + y + f_k(x − y))/2 (stable f_k); lse_form: "
                   "(1/k)·LSE(kx, ky) − (log 2)/k (shifted LSE)")
