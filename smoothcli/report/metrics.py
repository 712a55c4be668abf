"""The tables of ``smooth metrics``: per (metric, k, dtype, method) the hard value, the smooth
value as computed, its ULP error and status, the exact value once; the reasons and verified
advice below (rows of the one row model, :mod:`smoothcli.report.rows`)."""

from __future__ import annotations

from typing import Any

from smoothcli.report.family import compact_exact, verdict_lines
from smoothcli.report.model import Column, Section


def section(part: Any, live: Any, full: bool) -> list[Section]:
    """The metrics tables of ``part.ev`` (a ``metrics`` evaluation, one row per series): one
    per k in the compact view, one with a k column with --full."""
    series = part.ev.series
    if full:
        return [_table(part, live, full, series)]
    # compact: one table per (k, method), so that no column repeats what the title says and
    # the lines keep within 100 columns whatever the dtypes
    groups = list(dict.fromkeys((s.param, s.method) for s in series))
    return [_table(part, live, full, [s for s in series if (s.param, s.method) == g])
            for g in groups]


def _table(part: Any, live: Any, full: bool, series: list) -> Section:
    ev = part.ev
    several_k = len({s.param for s in series}) > 1
    methods = {s.method for s in series}
    cols = [Column("metric", "metric")]
    if several_k:
        cols.append(Column("k", "k", "value"))
    cols.append(Column("dtype", "dtype"))
    if len(methods) > 1 or full:
        cols.append(Column("method", "method"))
    cols += [Column("hard", "hard", "text"), Column("soft", "smooth", "value"),
             Column("ulp_error", "ULP err", "error")]
    if full:
        cols += [Column("reference", "reference", "reference"),
                 Column("abs_error", "abs err", "error"), Column("flags", "flags", "flags")]
    cols.append(Column("status", "status", "status"))
    if not full:
        cols.append(Column("exact", "exact", "reference"))
    order = {name: i for i, name in enumerate(dict.fromkeys(s.function for s in series))}
    table = []
    seen: set = set()
    for s in sorted(series, key=lambda s: (order[s.function], s.param)):
        a = s.arrays
        hard = float(a["hard"][0])
        exact = s.reference_decimal[0] or "—"
        ref = s.reference_mpf[0]
        wrong = [float(x.arrays["value"][0]) for x in series if x.function == s.function
                 and x.param == s.param and x.dtype == s.dtype and x.arrays["bits"][0] > 0]
        short_exact = exact if ref is None else compact_exact(ref, s.format, wrong)
        key = (s.function, s.param, short_exact)
        line = {"metric": s.function, "k": s.param, "dtype": s.dtype, "method": s.method,
                "hard": "—" if hard != hard else _short(hard), "soft": a["value"][0],
                "ulp_error": a["ulp_error"][0], "reference": exact,
                "abs_error": a["abs_error"][0],
                "flags": [f for f in ("overflow", "underflow", "nan") if a[f][0]],
                "exact": "" if key in seen else short_exact, "_digits": s.format.max_digits10}
        seen.add(key)
        line["status"] = live.status(line, s, 0)
        table.append(line)
    title = "hard vs smooth metrics over the batch"
    if not several_k and series:
        title += f", k = {series[0].param:g}"
    if len(methods) == 1 and not full:
        title += f", method {next(iter(methods))}"
    hint = None if full else ("--full: every column (the exact value in full, abs error, "
                              "flags); --json: every field")

    def caption(v: Any) -> str | None:
        return "\n".join(filter(None, [*verdict_lines(ev, v, series), hint])) or None

    sec = Section(title, cols, table, caption(live.verdicts))
    live.captions.append((sec, caption))
    return sec


def _short(v: float) -> str:
    """A hard metric to 6 significant digits, marked as a float."""
    text = format(v, ".6g")
    return text + ".0" if text.lstrip("-").isdigit() else text
