"""``smooth sigmoid``: σ(x) naive vs stable beside the unit step H(x); softplus and log σ on
request; and the seed's identity softmax([0, s]) = [1 − σ(s), σ(s)] computed both ways.

Every (function, dtype, method, x) is a row with the standard keys (value, reference, abs / rel /
ULP error, overflow / underflow / nan, see :func:`smoothcli.measure.flags.pointwise_flags`), so
``--json`` and ``--check`` work as for ``smooth lse``.  The identity is a demonstration, not an
evaluation of one function: it goes to the top-level JSON key ``identity`` (``--check`` looks at
``rows`` only, and every σ(s) it uses is a row already).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.commands._common import Settings
from smoothcli.report.family import (WRAP, changed_section, compact_changed_entries,
                                     typed_entries)
from smoothcli.core.formats import FloatFormat
from smoothcli.measure.errors import errors, ulp_exponent
from smoothcli.measure.flags import pointwise_flags
from smoothcli.core.numbers import Number
from smoothcli.core.rounding import exact_values, round_inputs
from smoothcli.reference.exact import decimal_text
from smoothcli.report.model import Column, Report, Section, flag_names
from smoothcli.methods.sigmoid import FUNCTIONS, Function, PointTrace

#: softmax method paired with each sigmoid method in the identity table.
SOFTMAX_PAIR = {"naive": "naive", "stable": "shifted"}


@dataclass
class PointRow:
    """One elementwise function at one input, in one (dtype, method)."""

    function: str  # sigmoid | softplus | log_sigmoid | abs (smooth |x|)
    dtype: str
    method: str
    input: str  # the token typed
    x: float  # its value in the dtype
    hard: float  # the hard function at x: H(x), max(x, 0), min(x, 0), |x|
    value: float
    reference: float  # the float64 nearest to the exact value
    reference_decimal: str  # the exact value, 17 correct significant digits
    abs_error: float
    rel_error: float
    ulp_error: float
    overflow: bool
    underflow: bool
    nan: bool
    exp: float  # the exponential the method computed (see the method's formula)
    flushed_terms: int  # 1 when that exponential was computed as 0
    reference_typed: float | None = None  # exact value at the typed input, if rounding changed it

    def problems(self, max_ulp: float | None) -> list[str]:
        return point_problems(f"{self.dtype} {self.method} {self.function}({self.input})", self,
                              max_ulp)


def point_problems(where: str, row: Any, max_ulp: float | None) -> list[str]:
    """What ``--check`` fails on for one row: its flags, and a ULP error beyond ``max_ulp``."""
    out = [f"{where}: {f}" for f in ("overflow", "underflow", "nan") if getattr(row, f)]
    u = row.ulp_error
    if max_ulp is not None and not row.nan and u is not None and not math.isnan(u) \
            and u > max_ulp:
        out.append(f"{where}: {u:.3g} ULP > --max-ulp {max_ulp:g}")
    return out


@dataclass
class IdentityRow:
    """softmax([0, s]) next to [1 − σ(s), σ(s)], both computed in one dtype."""

    dtype: str
    softmax_method: str
    sigmoid_method: str
    input: str
    s: float
    softmax: list[float]  # softmax([0, s]) as computed
    sigmoid_form: list[float]  # [1 − σ(s), σ(s)] as computed (1 − σ(s) by subtraction)
    reference: list[float]  # the exact [σ(−s), σ(s)]
    reference_decimal: list[str]
    difference_ulp: list[float]  # |softmax_i − sigmoid_form_i| / ulp(exact_i) in the dtype
    softmax_ulp_error: list[float]
    sigmoid_ulp_error: list[float]


def resolve_functions(softplus: bool, log_sigmoid: bool) -> list[Function]:
    out = [FUNCTIONS["sigmoid"]]
    if softplus:
        out.append(FUNCTIONS["softplus"])
    if log_sigmoid:
        out.append(FUNCTIONS["log_sigmoid"])
    return out


class _Refs:
    """Exact references per (function, value), shared by the dtypes whose inputs agree."""

    def __init__(self) -> None:
        self._cache: dict[tuple, Any] = {}

    def __call__(self, fn: Function, x: Any) -> Any:
        key = (fn.name, "nan" if isinstance(x, float) and math.isnan(x) else x)
        if key not in self._cache:
            self._cache[key] = fn.reference(x)
        return self._cache[key]


def evaluate_points(fn: Function, method: str, fmt: FloatFormat, array: Any, numbers: Sequence[Number],
                    refs: Sequence[Any], hard: Sequence[float]) -> list[PointRow]:
    """Run one method on one dtype's inputs and measure every element against ``refs``."""
    trace: PointTrace = fn.methods[method](array)
    rows = []
    for i, x in enumerate(numbers):
        xi, v, ref = float(array[i]), float(trace.value[i]), refs[i]
        err = errors(v, ref, fmt)
        fl = pointwise_flags(xi, trace.exp[i], [s[i] for s in trace.steps.values()], v, ref, fmt)
        rows.append(PointRow(
            function=fn.name, dtype=fmt.name, method=method, input=x.text, x=xi, hard=hard[i],
            value=v, reference=float(ref), reference_decimal=decimal_text(ref),
            abs_error=err.abs_error, rel_error=err.rel_error, ulp_error=err.ulp_error,
            overflow=fl.overflow, underflow=fl.underflow, nan=fl.nan, exp=float(trace.exp[i]),
            flushed_terms=fl.flushed))
    return rows


def sigmoid_report(numbers: Sequence[Number], settings: Settings,
                   functions: Sequence[Function] | None = None, full: bool = False) -> Report:
    """σ(x) (and softplus / log σ when asked) for every (dtype, method) of ``settings``;
    ``full``: every column and the identity table instead of the compact view."""
    functions = list(functions or [FUNCTIONS["sigmoid"]])
    refs = _Refs()
    rounded = [round_inputs(numbers, fmt) for fmt in settings.dtypes]
    typed = exact_values(numbers)
    rows: list[PointRow] = []
    entries = typed_entries(numbers, rounded)
    changed = (changed_section(entries, [r.dtype for r in rounded]) if full else
               compact_changed_entries(entries, settings.dtypes))
    sections: list[Section] = [changed] if changed is not None else []
    for fn in functions:
        mine: list[PointRow] = []
        for fmt, inputs in zip(settings.dtypes, rounded):
            r = [refs(fn, v) for v in inputs.values]
            hard = [fn.hard(v) for v in inputs.values]
            for method in settings.methods:
                for row, changed, t in zip(evaluate_points(fn, method, fmt, inputs.array,
                                                           numbers, r, hard),
                                           inputs.changed, typed):
                    if changed:
                        row.reference_typed = float(refs(fn, t))
                    mine.append(row)
        # table order: per input, per dtype, naive beside stable
        order = {n.text: i for i, n in enumerate(numbers)}
        mine.sort(key=lambda p: order[p.input])
        rows.extend(mine)
        sections.append(_function_section(fn, mine, settings) if full else
                        _compact_section(fn, mine, settings))
    identity = _identity(numbers, rounded, settings, refs)
    if full:
        sections.append(_identity_section(identity, settings))
    notes = _notes(functions, settings, rows)
    if not full:  # a caption (the JSON's notes are the same in both views)
        last = sections[-1]
        last.caption = "\n".join(filter(None, [last.caption, FULL_HINT]))
    report = Report("sigmoid", rows, sections, notes,
                    {"settings": settings.as_json(), "functions": [f.name for f in functions],
                     "inputs": entries, "identity": identity})
    report.wrap = None if full else WRAP
    return report


def exact_once(table: list[dict], group: str) -> None:
    """Blank a table's ``exact`` cells that repeat the one above them for the same ``group``
    value (the compact views show each exact value once)."""
    seen: set = set()
    for line in table:
        key = (line[group], line["exact"])
        if key in seen:
            line["exact"] = ""
        seen.add(key)


def _compact_section(fn: Function, rows: list[PointRow], settings: Settings) -> Section:
    """The default view: per (x, dtype, method) the value, its ULP error and its flags; the exact
    value once per input (again only where a dtype's rounded input gives another)."""
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("input", "x"), Column("hard", fn.hard_name, "value"),
            Column("dtype", "dtype"), Column("method", "method"),
            Column("value", fn.name.replace("_", " "), "value"),
            Column("ulp_error", "ULP err", "error"), Column("flags", "flags", "flags"),
            Column("exact", "exact", "reference")]
    table = [{"input": r.input, "dtype": r.dtype, "hard": r.hard, "method": r.method,
              "value": r.value, "exact": r.reference_decimal, "ulp_error": r.ulp_error,
              "flags": flag_names(r), "_digits": digits.get(r.dtype, 17)} for r in rows]
    exact_once(table, "input")
    return Section(f"{fn.title}  vs  {fn.hard_name}", cols, table,
                   "; ".join(f"{m}: {fn.forms[m]}" for m in settings.methods))


def _identity(numbers, rounded, settings: Settings, refs: _Refs) -> list[IdentityRow]:
    """softmax([0, s]) = [1 − σ(s), σ(s)] for each s (the seed's 'sigmoid' section)."""
    import numpy as np

    from smoothcli.methods.registry import SOFTMAX_METHODS

    sig = FUNCTIONS["sigmoid"]
    out = []
    for fmt, inputs in zip(settings.dtypes, rounded):
        d = fmt.np.type
        for method in settings.methods:
            sm = SOFTMAX_PAIR[method]
            sigma = sig.methods[method](inputs.array).value
            with np.errstate(all="ignore"):
                one_minus = d(1) - sigma
            for i, x in enumerate(numbers):
                s = inputs.values[i]
                pair = np.array([0.0, s], dtype=np.float64).astype(fmt.np)
                soft = [float(v) for v in SOFTMAX_METHODS[sm](pair, Accumulation()).value]
                form = [float(one_minus[i]), float(sigma[i])]
                exact = [refs(sig, -s), refs(sig, s)]
                out.append(IdentityRow(
                    dtype=fmt.name, softmax_method=sm, sigmoid_method=method, input=x.text, s=s,
                    softmax=soft, sigmoid_form=form, reference=[float(e) for e in exact],
                    reference_decimal=[decimal_text(e) for e in exact],
                    difference_ulp=[_ulps_apart(a, b, e, fmt) for a, b, e in
                                    zip(soft, form, exact)],
                    softmax_ulp_error=[errors(a, e, fmt).ulp_error for a, e in zip(soft, exact)],
                    sigmoid_ulp_error=[errors(b, e, fmt).ulp_error for b, e in zip(form, exact)]))
    return out


def _ulps_apart(a: float, b: float, exact: Any, fmt: FloatFormat) -> float:
    """|a − b| in ULPs of ``fmt`` at the exact value (exact: both are dyadic rationals)."""
    from fractions import Fraction

    if math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    import mpmath

    k = ulp_exponent(exact, fmt) if mpmath.isfinite(exact) else fmt.emin - fmt.precision + 1
    return float(abs(Fraction(a) - Fraction(b)) / Fraction(2) ** k)


def _function_section(fn: Function, rows: list[PointRow], settings: Settings) -> Section:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("input", "x"), Column("dtype", "dtype"), Column("hard", fn.hard_name, "value"),
            Column("method", "method"), Column("value", fn.name.replace("_", " "), "value"),
            Column("reference", "reference", "reference"),
            Column("abs_error", "abs err", "error"), Column("rel_error", "rel err", "error"),
            Column("ulp_error", "ULP err", "error"), Column("exp", "e (computed)", "value"),
            Column("flags", "flags", "flags")]
    table = [{"input": r.input, "dtype": r.dtype, "hard": r.hard, "method": r.method,
              "value": r.value, "reference": r.reference_decimal, "abs_error": r.abs_error,
              "rel_error": r.rel_error, "ulp_error": r.ulp_error, "exp": r.exp,
              "flags": flag_names(r), "_digits": digits.get(r.dtype, 17)} for r in rows]
    return Section(f"{fn.title}  vs  {fn.hard_name}", cols, table,
                   "; ".join(f"{m}: {fn.forms[m]}" for m in settings.methods))


def _identity_section(rows: list[IdentityRow], settings: Settings) -> Section:
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    cols = [Column("input", "s"), Column("dtype", "dtype"), Column("methods", "softmax / σ"),
            Column("p0", "softmax[0]", "value"), Column("q0", "1 − σ(s)", "value"),
            Column("d0", "Δ ULP", "error"), Column("p1", "softmax[1]", "value"),
            Column("q1", "σ(s)", "value"), Column("d1", "Δ ULP", "error"),
            Column("r1", "exact σ(s)", "reference")]
    order: dict[str, int] = {}
    for r in rows:
        order.setdefault(r.input, len(order))
    table = [{"input": r.input, "dtype": r.dtype,
              "methods": f"{r.softmax_method} / {r.sigmoid_method}",
              "p0": r.softmax[0], "q0": r.sigmoid_form[0], "d0": r.difference_ulp[0],
              "p1": r.softmax[1], "q1": r.sigmoid_form[1], "d1": r.difference_ulp[1],
              "r1": r.reference_decimal[1], "_digits": digits.get(r.dtype, 17)}
             for r in sorted(rows, key=lambda r: order[r.input])]
    return Section("the seed's identity softmax([0, s]) = [1 − σ(s), σ(s)], computed both ways",
                   cols, table, "Δ ULP: |softmax_i − the σ form_i| in ULPs of the dtype at the "
                   "exact value; exact softmax[0] = σ(−s)")


#: The compact view's pointer to the full tables.
FULL_HINT = ("--full: every column (abs / rel error, the computed exponential) and the seed's "
             "identity softmax([0, s]) = [1 − σ(s), σ(s)] computed both ways; --json: every field")


def _notes(functions: Sequence[Function], settings: Settings, rows: list[PointRow]) -> list[str]:
    notes = ["H(x) is the unit step of the seed's eq. (6): 0 for x < 0, ½ at 0, 1 for x > 0; "
             "σ smooths it (σ(4.6) > 0.99, σ(−4.6) < 0.01)"]
    if "naive" in settings.methods:
        notes.append("naive exponentiates −x (or x for softplus) as written: e^(−x) overflows "
                     "for very negative x (float16 beyond −11.09) and naive σ returns 1/inf = 0")
    if "stable" in settings.methods:
        notes.append("stable only exponentiates −|x| ≤ 0 (e ≤ 1: nothing overflows) and uses "
                     "log1p, so log(1 + e) keeps e when 1 + e rounds to 1")
    names = {f.name for f in functions}
    if "softplus" in names:
        notes.append("softplus(x) = log(1 + e^x) is the smooth max(x, 0) (its derivative is σ)")
    if "log_sigmoid" in names:
        notes.append("log σ(x) = −softplus(−x) is the smooth min(x, 0)")
    notes.append("1 − σ(s) computed by subtraction cancels when σ(s) ≈ 1; softmax[0] = "
                 "e^(−s)/(1 + e^(−s)) after the shift does not")
    if any(r.overflow for r in rows):
        notes.append("overflow: e overflowed to inf although the exact result is finite "
                     "(the result may still look plausible: 1/inf = 0)")
    if any(r.underflow for r in rows):
        notes.append("underflow: the result was flushed to 0 (or into subnormals) although the "
                     "exact result rounds to a nonzero (normal) number of the dtype")
    return notes
