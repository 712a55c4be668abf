"""``smooth sigmoid``: σ(x) naive vs stable beside the unit step H(x); softplus and log σ on
request; and the seed's identity softmax([0, s]) = [1 − σ(s), σ(s)] computed both ways.

Every x is a point of the one engine's pointwise path (:mod:`smoothcli.engine.evaluate`): one row
of the row model per (function, x, dtype, method) with its status, reason and verified advice,
so ``--json`` and ``--check`` work as for ``smooth lse``.  The identity is a demonstration, not
an evaluation of one function: it goes to the top-level JSON key ``identity`` (``--check`` looks
at ``rows`` only, and every σ(s) it uses is a row already).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from smoothcli.commands._common import Settings
from smoothcli.core.formats import FloatFormat
from smoothcli.core.numbers import Number
from smoothcli.methods.pointwise import Pointwise
from smoothcli.methods.sigmoid import FUNCTIONS
from smoothcli.report.model import Column, Report, Section

#: softmax method paired with each sigmoid method in the identity table.
SOFTMAX_PAIR = {"naive": "naive", "stable": "shifted"}


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


def resolve_functions(softplus: bool, log_sigmoid: bool, beta: float | None = None,
                      threshold: float | None = None) -> list[Pointwise]:
    """The functions asked for; ``beta`` / ``threshold`` add torch's softplus form
    (torch.nn.functional.softplus(x, beta, threshold), :mod:`smoothcli.methods.torch_forms`)."""
    out = [FUNCTIONS["sigmoid"]]
    if softplus:
        out.append(FUNCTIONS["softplus"])
    if log_sigmoid:
        out.append(FUNCTIONS["log_sigmoid"])
    if beta is not None or threshold is not None:
        from smoothcli.methods.torch_forms import (DEFAULT_BETA, DEFAULT_THRESHOLD, register,
                                                   softplus_torch_spec)

        spec = softplus_torch_spec(DEFAULT_BETA if beta is None else beta,
                                   DEFAULT_THRESHOLD if threshold is None else threshold)
        register(spec)
        out.append(spec)
    return out


def evaluations(numbers: Sequence[Number], settings: Settings,
                functions: Sequence[Pointwise]) -> list:
    """Each function on the typed values, through the one engine."""
    from smoothcli.engine.evaluate import Plan, evaluate
    from smoothcli.engine.sources import arguments

    batch = arguments(numbers)
    out = []
    for fn in functions:
        # torch's softplus form has no "naive": its as-written method (the first) stands for it
        first = next(iter(fn.methods))
        methods = list(dict.fromkeys(m if m in fn.methods else first for m in settings.methods
                                     if m in fn.methods or m == "naive")) or list(fn.methods)
        out.append(evaluate(Plan(fn.name, list(settings.dtypes), methods,
                                 peers=list(settings.peers)), batch))
    return out


def sigmoid_report(numbers: Sequence[Number], settings: Settings,
                   functions: Sequence[Pointwise] | None = None, full: bool = False) -> Report:
    """σ(x) (and softplus / log σ when asked) for every (dtype, method) of ``settings``;
    ``full``: every column and the identity table instead of the compact view."""
    from smoothcli.report.pointwise import Part, build

    functions = list(functions or [FUNCTIONS["sigmoid"]])
    evs = evaluations(numbers, settings, functions)
    identity = _identity(numbers, evs[0], settings)
    report = build("sigmoid", [Part(ev) for ev in evs], settings, _notes(functions, settings, evs),
                   {"functions": [f.name for f in functions], "identity": identity}, full)
    if full:
        report.sections.append(_identity_section(identity, settings))
    else:
        last = report.sections[-1]
        last.caption = "\n".join(filter(None, [last.caption, FULL_HINT]))
    return report


def _identity(numbers: Sequence[Number], ev: Any, settings: Settings) -> list[IdentityRow]:
    """softmax([0, s]) = [1 − σ(s), σ(s)] for each s (the seed's 'sigmoid' section): the
    softmax of the rows [0, s] through the one engine, beside 1 − σ(s) and σ(s) from the σ rows
    of ``ev``, each against the exact [σ(−s), σ(s)]."""
    import numpy as np

    from smoothcli.engine.evaluate import Plan, evaluate
    from smoothcli.engine.inputs import Batch
    from smoothcli.measure.errors import errors
    from smoothcli.reference.exact import decimal_text

    sig = FUNCTIONS["sigmoid"]
    out = []
    for fmt in settings.dtypes:
        mine = {s.method: s for s in ev.series if s.dtype == fmt.name and s.peer is None}
        if not mine:
            continue
        xs = next(iter(mine.values())).arrays["x"]
        pairs = np.stack([np.zeros_like(xs), xs], axis=1)  # values of the dtype: exact
        batch = Batch("identity", "text", fmt.name, pairs.shape, -1, pairs)
        pair_methods = [SOFTMAX_PAIR[m] for m in mine]
        soft_ev = evaluate(Plan("softmax", [fmt], pair_methods, elements=True), batch)
        soft = {s.method: s for s in soft_ev.series}
        d = fmt.np.type
        for method, sser in mine.items():
            sm = soft[SOFTMAX_PAIR[method]]
            for i, x in enumerate(numbers):
                sigma = d(sser.arrays["value"][i])
                with np.errstate(all="ignore"):
                    form = [float(d(1) - sigma), float(sigma)]
                s_val = float(xs[i])
                exact = [sig.reference(-s_val), sser.reference_mpf[i]]
                el = sm.elements[i]
                values = [float(v) for v in el["value"]]
                out.append(IdentityRow(
                    dtype=fmt.name, softmax_method=sm.method, sigmoid_method=method,
                    input=x.text, s=s_val, softmax=values, sigmoid_form=form,
                    reference=[float(e) for e in exact],
                    reference_decimal=[decimal_text(e) for e in exact],
                    difference_ulp=[_ulps_apart(a, b, e, fmt) for a, b, e in
                                    zip(values, form, exact)],
                    softmax_ulp_error=[float(u) for u in el["ulp_errors"]],
                    sigmoid_ulp_error=[errors(b, e, fmt).ulp_error for b, e in zip(form, exact)]))
    return out


def _ulps_apart(a: float, b: float, exact: Any, fmt: FloatFormat) -> float:
    from smoothcli.measure.errors import ulp_exponent

    """|a − b| in ULPs of ``fmt`` at the exact value (exact: both are dyadic rationals)."""
    from fractions import Fraction

    if math.isnan(a) or math.isnan(b):
        return math.nan
    if math.isinf(a) or math.isinf(b):
        return 0.0 if a == b else math.inf
    import mpmath

    k = ulp_exponent(exact, fmt) if mpmath.isfinite(exact) else fmt.emin - fmt.precision + 1
    return float(abs(Fraction(a) - Fraction(b)) / Fraction(2) ** k)


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


def _notes(functions: Sequence[Pointwise], settings: Settings, evs: Sequence[Any]) -> list[str]:
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
    flagged = [s for ev in evs for s in ev.series]
    if any(s["overflow"].any() for s in flagged):
        notes.append("overflow: e overflowed to inf although the exact result is finite "
                     "(the result may still look plausible: 1/inf = 0)")
    if any(s["underflow"].any() for s in flagged):
        notes.append("underflow: the result was flushed to 0 (or into subnormals) although the "
                     "exact result rounds to a nonzero (normal) number of the dtype")
    return notes
