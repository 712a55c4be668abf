"""``smooth sweep``: error against c of a function on x + c (or c·x), per dtype and method.

The numerics are :func:`smoothcli.engine.sweep.run_sweep`; this module turns its series into a Report:
the JSON rows (one per dtype and method, each holding the whole series), a chart description
(:mod:`smoothcli.report.charts`: one panel per dtype, one curve per method, the flags as status strips)
and two tables: the runs of equal status along the grid and the exact c of every change.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from smoothcli.core.accumulation import DEFAULT_ORDER, Accumulation
from smoothcli.report.charts import Band, Chart, Curve, Panel, check_layout
from smoothcli.core.formats import DEFAULT_DTYPES, FloatFormat
from smoothcli.core.numbers import Number
from smoothcli.report.model import Column, Report, Section
from smoothcli.engine.sweep import (BITS, DEFAULT_STEPS, Sweep, SweepResult, exact_text,
                                    run_sweep)

DEFAULT_WIDTH = 72
DEFAULT_HEIGHT = 8

_NAMES = {"lse": "LSE", "softmax": "softmax", "exp": "exp", "sigmoid": "σ"}


def sweep_report(function: str, numbers: Sequence[Number], sweep: Sweep,
                 formats: Sequence[FloatFormat], methods: Sequence[str] | None,
                 accumulation: Accumulation, unit: str = BITS, width: int = DEFAULT_WIDTH,
                 height: int = DEFAULT_HEIGHT, full: bool = False) -> Report:
    """Sweep ``function`` over ``sweep`` and report the series, the chart and the boundaries;
    ``full``: the tables with every column instead of the compact view (the error in the chart's
    unit only, the exact c of each change cut to :data:`COMPACT_C` characters, no grid steps
    around it).  The JSON is the same either way."""
    check_layout(width, height)
    result = run_sweep(function, numbers, sweep, formats, methods, accumulation, unit)
    command = command_line(function, numbers, sweep, formats, methods, accumulation, unit,
                           width, height)
    chart = sweep_chart(result, numbers, formats, command, width, height)
    notes = [
        f"inputs at each c: the exact {sweep.formula} rounded once to the dtype (to nearest, "
        "ties to even), as if typed; the reference is exact for those rounded inputs",
        _unit_note(unit),
        f"c from {sweep.start_text} to {sweep.stop_text} in {sweep.steps} steps of "
        f"{_step_text((sweep.stop - sweep.start) / (sweep.steps - 1))}; boundaries between "
        "two steps are located exactly (a change that reverts between two steps is not seen)",
    ]
    extra: dict[str, Any] = {
        "function": result.function,
        "sweep": {"kind": sweep.kind, "formula": sweep.formula, "from": float(sweep.start),
                  "to": float(sweep.stop), "steps": sweep.steps},
        "unit": unit,
        "settings": {"dtypes": [f.name for f in formats],
                     "methods": sorted({s.method for s in result.series},
                                       key=[s.method for s in result.series].index),
                     "sum": accumulation.order, "acc": getattr(accumulation, "acc", None)},
        "inputs": [x.text for x in numbers],
        "c": [float(c) for c in result.grid],
    }
    report = Report("sweep", result.series, [_segments_section(result, None if full else unit),
                                             _boundaries_section(result, full)], notes, extra)
    report.charts = [chart]
    if not full:
        from smoothcli.report.family import WRAP

        report.wrap = WRAP
    return report


def command_line(function: str, numbers: Sequence[Number], sweep: Sweep,
                 formats: Sequence[FloatFormat], methods: Sequence[str] | None,
                 accumulation: Accumulation, unit: str, width: int, height: int) -> str:
    """The ``smooth sweep ...`` command that reproduces this report (non-default options only)."""
    parts = ["smooth", "sweep", function] + [x.text for x in numbers] + [sweep.option]
    if sweep.steps != DEFAULT_STEPS:
        parts += ["--steps", str(sweep.steps)]
    if unit != BITS:
        parts += ["--unit", unit]
    if [f.name for f in formats] != list(DEFAULT_DTYPES):
        from smoothcli.core.formats import FORMATS

        names = [f.name for f in formats]
        parts += ["--dtype", "all" if sorted(names) == sorted(FORMATS) else ",".join(names)]
    if methods:
        parts += ["--method", ",".join(methods)]
    if accumulation.order != DEFAULT_ORDER:
        parts += ["--sum", accumulation.order]
    if getattr(accumulation, "acc", None):
        parts += ["--acc", accumulation.acc]
    if width != DEFAULT_WIDTH:
        parts += ["--width", str(width)]
    if height != DEFAULT_HEIGHT:
        parts += ["--height", str(height)]
    return " ".join(parts)


def _unit_note(unit: str) -> str:
    if unit == BITS:
        return ("error in bits (Herbie): log2(1 + number of values of the dtype between the "
                "result and the correctly rounded exact value); 0 = correctly rounded, "
                "the dtype's width = NaN")
    return ("error in ULPs of the dtype at the exact value; a correctly rounded result has at "
            "most 0.5; inf/NaN results are drawn on the 'inf' row")


def sweep_chart(result: SweepResult, numbers: Sequence[Number], formats: Sequence[FloatFormat],
                command: str, width: int, height: int) -> Chart:
    """One panel per dtype, one curve per method, y = the error in the chosen unit."""
    from smoothcli.measure.bounds import width as format_width

    sweep = result.sweep
    name = _NAMES.get(result.function, result.function)
    xs = ", ".join(x.text for x in numbers)
    worst = " (worst element)" if result.function in ("softmax", "exp", "sigmoid") and \
        len(numbers) > 1 else ""
    title = (f"{name}({sweep.formula}) for x = [{xs}]: error{worst} in "
             f"{'bits' if result.unit == BITS else 'ULPs'} against c")
    panels = []
    for fmt in formats:
        rows = [s for s in result.series if s.dtype == fmt.name]
        curves = []
        for s in rows:
            # a NaN result where the exact value is a number is the worst error: on the top
            # row; a NaN error because the exact value is NaN (a nan input) is not drawn
            ys = [math.inf if math.isnan(e) and nan else e for e, nan in zip(s.errors, s.nan_at)]
            curves.append(Curve(s.method, list(s.c), ys, list(s.status),
                                spans=_spans(s, float(sweep.start), float(sweep.stop))))
        if result.unit == BITS:
            top = float(format_width(fmt))
            panel = Panel(fmt.name, curves, "error in bits", "linear", 0.0, top,
                          [0.0, top / 2, top])
        else:
            finite = [y for c in curves for y in c.y if math.isfinite(y) and y > 0]
            top = 10.0 ** max(1, math.ceil(math.log10(max(finite)))) if finite else 10.0
            panel = Panel(fmt.name, curves, "error in ULPs", "log", 0.1, top)
        panels.append(panel)
    label = f"c   (inputs {sweep.formula})"
    if result.unit == BITS:
        notes = ["bits: log2(1 + values of the dtype between result and correctly rounded exact "
                 "value);", "      0 = correctly rounded, top of the axis = NaN"]
    else:
        notes = ["ULPs: log scale, errors ≤ 0.1 on the bottom row; inf/NaN results on the 'inf' "
                 "row"]
    return Chart(title, label, panels, float(sweep.start), float(sweep.stop), command, width,
                 height, notes)


def _spans(s, lo: float, hi: float) -> list[Band]:
    """The flagged stretches of one series: each flagged run of points, reaching to the exact
    boundaries on either side (or halfway to the next grid point when there are none)."""
    out = []
    exact = len(s.boundaries) == len(s.segments) - 1
    first = 0
    for i, g in enumerate(s.segments):
        last = first + g.points - 1
        kind = next((f for f in g.status.split("+") if f != "ok"), None)
        if kind is not None:
            if exact:
                a = s.boundaries[i - 1].c if i > 0 else lo
                b = s.boundaries[i].c if i < len(s.segments) - 1 else hi
            else:
                a = (s.c[first - 1] + s.c[first]) / 2 if first > 0 else lo
                b = (s.c[last] + s.c[last + 1]) / 2 if last + 1 < len(s.c) else hi
            out.append(Band(a, b, kind))
        first = last + 1
    return out


def _segments_section(result: SweepResult, unit: str | None = None) -> Section:
    """The runs of equal status; ``unit``: only the worst error in that unit (compact view)."""
    cols = [Column("dtype", "dtype"), Column("method", "method"), Column("status", "status"),
            Column("c_from", "c from", "text"), Column("c_to", "c to", "text"),
            Column("points", "points", "int"), Column("worst_ulp_error", "worst ULP", "error"),
            Column("worst_bits", "worst bits", "error")]
    if unit is not None:
        drop = "worst_ulp_error" if unit == BITS else "worst_bits"
        cols = [c for c in cols if c.key != drop]
    rows = []
    for s in result.series:
        for g in s.segments:
            rows.append({"dtype": s.dtype, "method": s.method, "status": g.status,
                         "c_from": _num_text(g.c_from), "c_to": _num_text(g.c_to),
                         "points": g.points,
                         "worst_ulp_error": g.worst_ulp_error, "worst_bits": g.worst_bits})
    return Section("where each row is ok or flagged, along the sweep", cols, rows)


#: Characters of the exact c of a status change in the compact view (longer decimals are cut,
#: with "…"; ``--full`` and ``--json`` have them whole).
COMPACT_C = 20


def _short_c(text: str) -> str:
    return text if len(text) <= COMPACT_C else text[:COMPACT_C].rstrip(".") + "…"


def _boundaries_section(result: SweepResult, full: bool = True) -> Section:
    """The exact c of every status change; not ``full``: c cut to :data:`COMPACT_C` characters
    and no 'between steps' column."""
    cols = [Column("dtype", "dtype"), Column("method", "method"),
            Column("change", "status changes"), Column("c", "at c =", "text"),
            Column("at", "status at that c"), Column("between", "between steps", "text")]
    if not full:
        cols = cols[:-1]
    short = (lambda text: text) if full else _short_c
    rows = []
    for s in result.series:
        for b in s.boundaries:
            rows.append({"dtype": s.dtype, "method": s.method,
                         "change": f"{b.before} → {b.after}",
                         "c": short(b.c_text) if b.exact or not full and
                         b.c_text.startswith("≈") else f"{short(b.c_text)} (not exact)",
                         "at": b.status_at,
                         "between": f"{_num_text(b.c_below)} … {_num_text(b.c_above)}"})
    caption = None if rows else "no row changes status along the sweep"
    return Section("where the status changes, located exactly (c where an input crosses a "
                   "rounding midpoint of the dtype)", cols, rows, caption)


def _step_text(q) -> str:
    """The grid step: its exact decimal when short, else 17 significant digits (a step of
    1.7e308 is beyond float64 as a float, but not as a rational)."""
    from decimal import Decimal, localcontext

    text = exact_text(q)
    if len(text) <= 24:
        return text
    with localcontext() as ctx:
        ctx.prec = 17
        return format(Decimal(q.numerator) / Decimal(q.denominator), "g")


def _num_text(v: float) -> str:
    return str(int(v)) if float(v).is_integer() and abs(v) < 1e16 else repr(float(v))
