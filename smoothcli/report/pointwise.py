"""The report of a pointwise evaluation (sigmoid, softplus, log σ, the smooth |x|, the smooth max
of two values): its JSON rows and summary, and the tables of the table view.

The rows are the rows of the one row model (:mod:`smoothcli.report.rows`): one per (point,
dtype, method[, k]), each with its status, reason and verified advice
(:mod:`smoothcli.report.verdict`).  The compact view shows per point the value, its ULP error
and status, the exact value once, and below the table the reason and the advice per
(dtype, method) and status; ``--full`` adds every error, the computed exponential and the
flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from smoothcli.report.family import (compact_exact, WRAP, Live, changed_section, compact_changed_entries,
                                     input_entries, input_object, peer_notes, verdict_lines)
from smoothcli.report.model import Column, Report, Section
from smoothcli.report.rows import Rows, problems, summary


@dataclass
class Part:
    """One pointwise evaluation in a report, with what its command adds.

    ``bounds``: per (point, id(series)) the (gap, upper, inside) of the function's bounds, and
    ``outside`` the count per series of points outside them; ``columns(full)`` and
    ``cells(series, point)``: the command's own columns (|x| − f_k, inside, ...) after the
    standard ones."""

    ev: Any
    bounds: dict | None = None
    outside: dict | None = None
    columns: Callable[[bool], list[Column]] | None = None
    cells: Callable[[Any, int], dict] | None = None
    title: str | None = None
    caption: str | None = None


class _Chain:
    """The JSON rows of several evaluations, one after the other (produced when iterated)."""

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def __iter__(self):
        for rows in self.parts:
            yield from rows

    def __len__(self) -> int:
        return sum(len(r) for r in self.parts)


def build(command: str, parts: Sequence[Part], settings: Any, notes: Sequence[str] = (),
          extra: dict | None = None, full: bool = False,
          section: Callable[[Part, Any, bool], Section] | None = None) -> Report:
    """The Report of one or more evaluations of the same inputs (``smooth sigmoid --softplus``
    evaluates two functions); ``notes``: the command's notes (the answer line per function is
    added); ``section(part, live, full)``: the table of a part (default: one line per point,
    and the inputs rounding changed above)."""
    from smoothcli.engine.evaluate import typed_points
    from smoothcli.report.verdict import Verdicts

    first = parts[0].ev
    report = Report(command, [])
    report.extra = {"settings": settings.as_json()}
    report.wrap = None if full else WRAP
    report.sections = []
    if section is None:
        section = _section
        entries = input_entries(first)
        report.extra.update({"input": input_object(first), "inputs": entries,
                             "inputs_changed": dict(first.changed)})
        changed = (changed_section(entries, [f.name for f in first.plan.dtypes]) if full else
                   compact_changed_entries(entries, first.plan.dtypes))
        report.sections += [changed] if changed is not None else []
    report.extra.update(extra or {})
    lives, all_rows, answers = [], [], []
    report.summary = []
    for part in parts:
        verdicts = Verdicts(part.ev)
        typed = ({k: float(v) for k, v in typed_points(part.ev).items()}
                 if part.ev.pointwise else {})
        rows = Rows(part.ev, typed, part.bounds, verdicts)
        all_rows.append(rows)
        report.summary += summary(part.ev, part.outside, verdicts)
        live = Live(verdicts)
        made = section(part, live, full)
        report.sections += made if isinstance(made, list) else [made]
        lives.append((part, rows, live))
        answers.append(verdicts)
    report.rows = _Chain(all_rows) if len(all_rows) > 1 else all_rows[0]
    report.notes = [*notes, *(n for p in parts for n in peer_notes(p.ev)),
                    "status: judged from the result (docs/verdicts.md)"]
    for (part, rows, live), verdicts in zip(lives, answers):
        live.answer_at = len(report.notes)
        report.notes.append(_answer(part, verdicts, len(parts)))

    def check(max_ulp: float | None) -> list[str]:
        out: list[str] = []
        report.summary = []
        for part, rows, live in lives:
            v = rows.verdicts
            if max_ulp != v.max_ulp:  # --max-ulp turns rows beyond it inaccurate: judge again
                v = Verdicts(part.ev, max_ulp)
                rows.verdicts = v
                live.update(v, report)
                if live.answer_at is not None:
                    report.notes[live.answer_at] = _answer(part, v, len(parts))
            report.summary += summary(part.ev, part.outside, v)
            out += problems(part.ev, max_ulp, part.outside, v)
        return out

    report.check = check
    return report


def _answer(part: Part, verdicts: Any, count: int) -> str:
    from smoothcli.methods.pointwise import pointwise

    text = verdicts.answer()
    if count > 1:
        text = text.replace("answer:", f"answer ({title_of(pointwise(part.ev.plan.kind))}):", 1)
    return text


#: Compact views with more dtypes than this show one table per dtype (its name in the title), so
#: that lines keep within 100 columns beside float8's long names and float64's 17 digits.
DTYPES_PER_TABLE = 3


def _section(part: Part, live: Any, full: bool) -> list[Section]:
    """The tables of one evaluation: per point, per (dtype, method) one line; one table per k
    when there are several, and per dtype when there are many (--full: one table)."""
    series = part.ev.series
    if full:
        return [_table(part, live, full, series)]
    params = list(dict.fromkeys(s.param for s in series))
    dtypes = list(dict.fromkeys(s.dtype for s in series))
    by_dtype = len(dtypes) > DTYPES_PER_TABLE
    groups = [(p, d) for p in params for d in (dtypes if by_dtype else [None])]
    return [_table(part, live, full, [s for s in series if s.param == p and
                                      (d is None or s.dtype == d)]) for p, d in groups]


def _table(part: Part, live: Any, full: bool, series: list) -> Section:
    from smoothcli.methods.pointwise import pointwise
    from smoothcli.report.verdict import point_text

    ev = part.ev
    spec = pointwise(ev.plan.kind)
    several_k = len({s.param for s in series}) > 1
    cols = [Column("input", "x" if spec.arity == 1 else "(x, y)"),
            Column("hard", spec.hard_name, "exact")]
    if several_k:
        cols.append(Column("k", "k", "value"))
    cols += [Column("dtype", "dtype"), Column("method", "method"),
             Column("value", title_of(spec), "value"), Column("ulp_error", "ULP err", "error")]
    if full:
        cols += [Column("reference", "reference", "reference"),
                 Column("abs_error", "abs err", "error"), Column("rel_error", "rel err", "error"),
                 Column("exp", "e (computed)", "value"), Column("flags", "flags", "flags")]
    cols += part.columns(full) if part.columns is not None else []
    cols.append(Column("status", "status", "status"))
    if not full:
        cols.append(Column("exact", "exact", "reference"))
    table = []
    seen: set = set()
    for q in range(ev.rows):
        for s in series:
            a = s.arrays
            line: dict[str, Any] = {
                "input": point_text(ev, s, q).split(" = ", 1)[1],
                "hard": dtype_text(a["hard"][q], s.format),
                "k": s.param, "dtype": s.dtype, "method": s.method, "value": a["value"][q],
                "ulp_error": a["ulp_error"][q], "reference": s.reference_decimal[q],
                "abs_error": a["abs_error"][q], "rel_error": a["rel_error"][q],
                "exp": a["exp"][q], "flags": [f for f in ("overflow", "underflow", "nan")
                                              if a[f][q]],
                "_digits": s.format.max_digits10}
            key = (q, s.param, s.reference_decimal[q])  # each exact value once per point
            ref = s.reference_mpf[q]
            wrong = [float(x.arrays["value"][q]) for x in series
                     if x.dtype == s.dtype and x.arrays["bits"][q] > 0]
            line["exact"] = "" if key in seen else (
                compact_exact(ref, s.format, wrong) if ref is not None
                else s.reference_decimal[q])
            seen.add(key)
            if part.cells is not None:
                line.update(part.cells(s, q))
            line["status"] = live.status(line, s, q)
            table.append(line)
    heading = part.title or f"{spec.title}  vs  {spec.hard_name}"
    if not several_k and series and series[0].param is not None:
        heading += f", k = {series[0].param:g}"
    if len({s.dtype for s in series}) == 1 and len({s.dtype for s in ev.series}) > 1:
        heading += f", {series[0].dtype}"
        cols = [c for c in cols if c.key != "dtype"]
    section = Section(heading, cols, table)
    forms = "; ".join(f"{m}: {spec.forms[m]}" for m in ev.plan.methods if m in spec.forms)

    def make_caption(v: Any) -> str | None:
        lines = verdict_lines(ev, v, series)
        return "\n".join(filter(None, [forms, part.caption, *lines])) or None

    section.caption = make_caption(live.verdicts)
    live.captions.append((section, make_caption))
    return section


def dtype_text(v: Any, fmt: Any) -> str:
    """A value of the dtype as its shortest text there ('1e-05', not 1.0000000000000001e-05)."""
    import math

    v = float(v)
    if math.isnan(v):
        return "—"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    target = fmt.np.type(v)
    for digits in range(1, 18):  # the fewest digits that read back as the same dtype value
        text = f"{v:.{digits}g}"
        if fmt.np.type(float(text)) == target:
            return text
    return repr(v)


def title_of(spec: Any) -> str:
    """The value column's heading: the function's name as written."""
    return {"sigmoid": "σ(x)", "softplus": "softplus", "log_sigmoid": "log σ(x)",
            "smooth_abs": "f_k(x)", "smooth_max2": "smooth max", "sigmoid_grad": "σ′(x)",
            "softplus_grad": "softplus′(x)", "log_sigmoid_grad": "(log σ)′(x)",
            "smooth_abs_grad": "f_k′(x)"}.get(spec.name, spec.name)
