"""``smooth underflow``: exp(x) term by term, and why the shifted sum cannot underflow.

With values: each exp(x_i) exactly, as computed in each dtype, and its class (normal, subnormal,
zero, inf); the naive and shifted sums and LSEs.  The shift makes the largest term exp(0) = 1, so
Σ exp(x_i - m) >= 1 and the log never sees 0 (the seed's section on the stable LSE).

Without values: the demonstration LSE(-800, -900), whose naive sum is 0 in every dtype, and the
seed's tiny-number facts (``1e-324 == 0.0`` and ``3e-324 == 5e-324`` in float64) together with
their analogues at the bottom of each dtype's subnormal range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from smoothcli.commands._common import Settings, run
from smoothcli.core.formats import FloatFormat
from smoothcli.core.numbers import parse_number
from smoothcli.reference.exact import converge, decimal_text
from smoothcli.report.model import Column, Report, Section
from smoothcli.core.rounding import round_number

DEMO = ("-800", "-900")
SEED_TINY = ("1e-324", "3e-324", "5e-324")


@dataclass
class Term:
    """exp(x_i) and exp(x_i - m) for one input in one dtype."""

    dtype: str
    i: int
    x: float
    exp_exact: float  # the float64 nearest to exp(x_i) (0 if below float64's range)
    exp_exact_decimal: str
    exp: float  # exp(x_i) as computed in the dtype
    exp_class: str  # normal | subnormal | zero | inf | nan
    shifted_exp: float  # exp(x_i - m) as computed in the dtype
    shifted_class: str


@dataclass
class TinyFact:
    """A decimal typed near the bottom of a dtype's range, and what it becomes there."""

    dtype: str
    typed: str
    value: float
    value_class: str
    equals_zero: bool
    equals_smallest_subnormal: bool


def classify(v: float, fmt: FloatFormat) -> str:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf"
    if v == 0:
        return "zero"
    return "subnormal" if abs(Fraction(v)) < fmt.smallest_normal else "normal"


def _terms(fmt: FloatFormat, x) -> list[Term]:
    import mpmath
    import numpy as np

    with np.errstate(all="ignore"):
        e = np.exp(x)
        m = np.max(x) if np.isfinite(np.max(x)) else x.dtype.type(0)
        se = np.exp(x - m)
    out = []
    for i, v in enumerate(x.astype(np.float64).tolist()):
        ex = converge(lambda: mpmath.exp(mpmath.mpf(v)))
        out.append(Term(fmt.name, i, v, float(ex), decimal_text(ex), float(e[i]),
                        classify(float(e[i]), fmt), float(se[i]), classify(float(se[i]), fmt)))
    return out


def tiny_tokens(fmt: FloatFormat) -> list[str]:
    """The seed's tokens plus, for this dtype, one decimal that rounds to 0 and one that rounds
    up to the smallest subnormal (0.4 and 0.6 of it, to one significant digit)."""
    s = fmt.smallest_subnormal
    mine = [_one_digit(s * Fraction(2, 5)), _one_digit(s * Fraction(3, 5))]
    return list(dict.fromkeys([*SEED_TINY, *mine]))


def _one_digit(q: Fraction) -> str:
    """q to one significant digit, as a decimal token (exact arithmetic: q may be below the
    float64 range)."""
    from decimal import Decimal, localcontext

    with localcontext() as ctx:
        ctx.prec = 1
        d = Decimal(q.numerator) / Decimal(q.denominator)
    return format(d, "e").replace("e-0", "e-")


def _facts(fmt: FloatFormat) -> list[TinyFact]:
    out = []
    for t in tiny_tokens(fmt):
        v = round_number(parse_number(t), fmt)
        out.append(TinyFact(fmt.name, t, v, classify(v, fmt), v == 0,
                            v == float(fmt.smallest_subnormal)))
    return out


#: Inputs up to this many values get the term-by-term table.
TERMS_LIMIT = 1000


def underflow_report(data: Any, settings: Settings, show_rows: bool = False,
                     elements: bool = True, full: bool = False) -> Report:
    from smoothcli.engine.sources import as_batch
    from smoothcli.report.family import build

    demo = data is None
    batch = as_batch([parse_number(t) for t in DEMO] if demo else data)
    ev, typed = run("lse", batch, settings, elements=elements)
    terms, facts = [], []
    if batch.rows == 1 and batch.n <= TERMS_LIMIT:
        for fmt in settings.dtypes:
            terms += _terms(fmt, batch.rounded(0, fmt))
    if demo:
        for fmt in settings.dtypes:
            facts += _facts(fmt)
    extra: dict[str, Any] = {"terms": terms}
    if demo:
        extra["tiny"] = facts
    report = build("underflow", ev, settings, show_rows, typed, extra=extra, full=full or elements)
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    tcols = [Column("dtype", "dtype"), Column("i", "i", "int"), Column("x", "x", "value"),
             Column("exp_exact", "exp(x) exact", "reference"),
             Column("exp", "exp(x) in dtype", "value"), Column("exp_class", "class"),
             Column("shifted_exp", "exp(x − m)", "value"), Column("shifted_class", "class")]
    if terms and not (full or elements):  # compact: the exact exp(x) is in --full and --json
        tcols = [c for c in tcols if c.key != "exp_exact"]
    if terms:
        report.sections.insert(len(report.sections) - 1, Section("the terms of Σ exp", tcols, [
            {"dtype": t.dtype, "i": t.i, "x": t.x, "exp_exact": t.exp_exact_decimal,
             "exp": t.exp, "exp_class": t.exp_class, "shifted_exp": t.shifted_exp,
             "shifted_class": t.shifted_class, "_digits": digits[t.dtype]} for t in terms]))
    if facts:
        fcols = [Column("dtype", "dtype"), Column("typed", "typed"),
                 Column("value", "value in dtype", "exact"), Column("value_class", "class"),
                 Column("equals_zero", "== 0", "text"),
                 Column("equals_smallest_subnormal", "== smallest subnormal", "text")]
        report.sections.append(Section(
            "tiny numbers (the seed: 1e-324 == 0.0, 3e-324 == 5e-324)", fcols,
            [{**f.__dict__, "equals_zero": "yes" if f.equals_zero else "no",
              "equals_smallest_subnormal": "yes" if f.equals_smallest_subnormal else "no"}
             for f in facts]))
    report.notes.append("shifted: m = max(x), so the term exp(m − m) = exp(0) = 1 is in the sum: "
                        "Σ exp(x − m) ≥ 1, the log never sees 0, and LSE = m + log(Σ) cannot "
                        "underflow")
    if demo:
        report.notes.insert(0, "no values given: demonstrating LSE(-800, -900) and the "
                               "tiny-number facts; pass values to explore your own")
    return report
