"""The report of an LSE-family evaluation (lse, softmax, bounds, underflow): its JSON rows and
summary, and the tables and notes of the table view.  Every sentence shown is written here."""

from __future__ import annotations

import math
from typing import Any, Sequence

from smoothcli.report.model import Column, Report, Section
from smoothcli.report.rows import Rows, function_name, problems, summary, where
from smoothcli.report.verdict import Verdicts, show

#: Elements listed per dtype in the softmax element table (JSON always has them all).
ELEMENT_LIMIT = 30
#: Input elements listed in JSON's ``inputs`` (the count of changed elements is always exact).
INPUTS_LISTED = 1000

TITLES = {"lse": "LSE", "softmax": "softmax", "bounds": "max ≤ LSE ≤ max + log n",
          "underflow": "naive vs shifted LSE (Σ exp underflow)"}


def vector_rows(ev: Any) -> bool:
    """The evaluation's results are vectors (softmax and the vector gradients)."""
    return any(s.vector for s in ev.series) or ev.plan.kind == "softmax"


def vector_name(ev: Any) -> str:
    """What a vector row holds: 'softmax', or 'gradient' for the vector gradients."""
    return "softmax" if ev.plan.kind == "softmax" else "gradient"


def vector_title(ev: Any) -> str:
    if ev.plan.kind == "softmax":
        return "softmax"
    from smoothcli.methods.vjp import VECTOR_FUNCTIONS

    spec = VECTOR_FUNCTIONS.get(ev.plan.kind)
    return spec.title if spec is not None else ev.plan.kind


def build(command: str, ev: Any, settings: Any, show_rows: bool = False,
          typed: Any = None, bounds: dict | None = None, outside: dict | None = None,
          extra: dict | None = None, full: bool = False) -> Report:
    """The Report of ``ev`` for ``command``.  ``typed``: the exact result for the inputs as typed
    (an mpf, or a list for softmax) when rounding changed them; ``bounds``/``outside``: the
    bounds command's per-row (gap, inside) and per-series counts; ``full``: today's full tables
    (every column) instead of the compact view (value, ULP error, status and reason)."""
    from smoothcli.report.verdict import Verdicts

    verdicts = Verdicts(ev)
    typed_rows = _typed_by_row(ev, typed)
    rows = Rows(ev, typed_rows, bounds, verdicts)
    report = Report(command, rows)
    report.summary = summary(ev, outside, verdicts)
    entries = input_entries(ev)
    report.extra = {"settings": settings.as_json(), "input": input_object(ev),
                    "inputs": entries, "inputs_changed": dict(ev.changed),
                    "reference_typed": _floats(typed),
                    "reference_method": {d: dict(k) for d, k in ev.reference_kinds.items()}}
    report.extra.update(extra or {})
    report.wrap = None if full else WRAP
    live = Live(verdicts)
    if full:
        report.sections = full_sections(command, ev, entries, bounds, show_rows,
                                         report.summary, live)
    else:
        report.sections = compact_sections(command, ev, entries, bounds, show_rows,
                                           report.summary, typed, live)
    report.notes = notes(command, ev, settings, typed, show_rows, full)
    live.answer_at = len(report.notes)
    report.notes.append(verdicts.answer())

    def check(max_ulp: float | None) -> list[str]:
        v = rows.verdicts
        if max_ulp != v.max_ulp:  # --max-ulp turns rows beyond it inaccurate: judge again
            v = Verdicts(ev, max_ulp)
            rows.verdicts = v
            report.summary = summary(ev, outside, v)
            live.update(v, report)
        return problems(ev, max_ulp, outside, v)

    report.check = check
    return report


class Live:
    """The parts of the table view that show verdicts, so that ``--max-ulp`` (known only when
    --check asks for the problems) can judge the rows again before the tables are drawn."""

    def __init__(self, verdicts: Any):
        self.verdicts = verdicts
        self.cells: list[tuple[dict, Any, int, str]] = []  # (table row, series, row, key)
        self.captions: list[tuple[Section, Any]] = []  # (section, verdicts -> caption)
        self.answer_at: int | None = None

    def status(self, line: dict, s: Any, i: int, key: str = "status") -> str:
        self.cells.append((line, s, i, key))
        if key == "status":
            return self.verdicts.status(s, i)
        return status_counts(self.verdicts, s)

    def update(self, v: Any, report: Report) -> None:
        self.verdicts = v
        for line, s, i, key in self.cells:
            line[key] = v.status(s, i) if key == "status" else status_counts(v, s)
        for section, make in self.captions:
            section.caption = make(v)
        if self.answer_at is not None and self.answer_at < len(report.notes):
            report.notes[self.answer_at] = v.answer()


def status_counts(v: Any, s: Any) -> str:
    counts = v.counts(s)
    if list(counts) == ["ok"]:
        return "ok"
    return ", ".join(f"{k} {n}" for k, n in counts.items() if k != "ok") + (
        f", ok {counts['ok']}" if "ok" in counts else "")


#: Width the compact view's sentences are wrapped to.
WRAP = 100


def full_sections(command: str, ev: Any, entries: list[dict], bounds: dict | None,
                  show_rows: bool, entries_summary: list[dict], live: Live) -> list[Section]:
    """Every column (``--full``)."""
    sections: list[Section] = []
    if ev.rows == 1:
        changed = changed_section(entries, [f.name for f in ev.plan.dtypes])
        if changed is not None:
            sections.append(changed)
        if vector_rows(ev):
            for f in ev.plan.dtypes:
                sec = element_section(ev, f.name)
                if sec is not None:
                    sections.append(sec)
        sections.append(evaluation_section(command, ev, bounds, live))
    else:
        sections.append(batch_section(command, ev, entries_summary, live))
        if show_rows:
            sections.append(per_row_section(ev, bounds, live))
    return sections


# --- the compact view (default) ------------------------------------------------------------

#: Rows of the compact view's element and changed-input tables.
COMPACT_ELEMENTS = 8


def compact_sections(command: str, ev: Any, entries: list[dict], bounds: dict | None,
                     show_rows: bool, entries_summary: list[dict], typed: Any,
                     live: Live) -> list[Section]:
    """The default view: per (dtype, method) the value, the error in ULPs, the status, and the
    reason and verified advice of every row that is not ok; the exact value once."""
    if ev.rows > 1:
        sections = [batch_section(command, ev, entries_summary, live, compact=True)]
        if show_rows:
            sections.append(per_row_section(ev, bounds, live))
        return sections
    sections = []
    changed = compact_changed_section(ev, entries)
    if changed is not None:
        sections.append(changed)
    if vector_rows(ev):
        el = compact_element_section(ev, typed)
        if el is not None:
            sections.append(el)
    sections.append(compact_series_section(command, ev, bounds, typed, live))
    return sections


def compact_changed_section(ev: Any, entries: list[dict]) -> Section | None:
    """The inputs rounding changed, each shown to its dtype's own precision."""
    return compact_changed_entries(entries, ev.plan.dtypes)


def compact_changed_entries(entries: list[dict], fmts: Sequence[Any]) -> Section | None:
    """The compact changed-input table of ``entries`` (:func:`input_entries` or
    or a command's own) for the dtypes ``fmts`` (FloatFormats)."""
    changed = [e for e in entries if any(e["changed"].values())]
    if not changed:
        return None
    cols = [Column("i", "#", "int"), Column("typed", "typed", "text")]
    cols += [Column(f.name, f"in {f.name}", "text") for f in fmts]
    rows = []
    for e in changed[:COMPACT_ELEMENTS]:
        row: dict[str, Any] = {"i": e["index"], "typed": e["text"]}
        for f in fmts:
            row[f.name] = show(e["rounded"][f.name], f) if e["changed"][f.name] else "(exact)"
        rows.append(row)
    width = sum(max([len(c.header)] + [len(str(r[c.key])) for r in rows]) + 3 for c in cols)
    if width > WRAP - 4:  # too many dtypes side by side: one line per (input, dtype)
        cols = [Column("i", "#", "int"), Column("typed", "typed", "text"),
                Column("dtype", "dtype", "text"), Column("value", "in the dtype", "text")]
        rows = [{"i": r["i"], "typed": r["typed"], "dtype": f.name, "value": r[f.name]}
                for r in rows for f in fmts if r[f.name] != "(exact)"]
    caption = None
    if len(changed) > COMPACT_ELEMENTS:
        caption = f"{len(changed) - COMPACT_ELEMENTS} more changed inputs: --full, --json"
    return Section("inputs changed by rounding (each to its dtype's precision)", cols, rows,
                   caption)


def compact_element_section(ev: Any, typed: Any) -> Section | None:
    """softmax's exact elements once: all of them up to COMPACT_ELEMENTS, else the ones that
    matter (the argmax, each method's worst element)."""
    import numpy as np

    plain = [s for s in ev.series if s.transform is None and s.elements is not None
             and s.elements[0] is not None]
    if not plain:
        return None
    first = plain[0]
    n = ev.n
    argmax = int(first.arrays["argmax"][0])
    if n <= COMPACT_ELEMENTS:
        shown = list(range(n))
    else:
        shown = [argmax] if argmax >= 0 else []
        for s in plain:
            u = s.elements[0]["ulp_errors"]
            if not np.isnan(u).all():
                w = int(np.nanargmax(u))
                if w not in shown and len(shown) < COMPACT_ELEMENTS:
                    shown.append(w)
        if not shown:
            shown = list(range(min(n, COMPACT_ELEMENTS)))
        shown.sort()
    b = ev.batch
    texts = ([x.text for x in b.numbers] if b.numbers is not None
             else [show(v) for v in np.asarray(b.data[0], dtype=np.float64).tolist()])
    if isinstance(typed, list):
        from smoothcli.reference.exact import decimal_text

        exact = [decimal_text(r) for r in typed]
        what = "exact softmax of the inputs as typed"
    else:
        exact = first.elements[0]["reference_decimal"]
        what = f"exact {vector_name(ev)}"
    cols = [Column("i", "i", "int"), Column("x", "x", "text"),
            Column("exact", what, "reference")]
    rows = [{"i": j, "x": texts[j] + (" (argmax)" if j == argmax else ""), "exact": exact[j]}
            for j in shown]
    caption = None
    if n > len(shown):
        caption = (f"{len(shown)} of {n} elements: the argmax and each method's worst element; "
                   "--full lists more, --json all")
    return Section(f"{vector_title(ev)} of {n} values", cols, rows, caption)


def compact_series_section(command: str, ev: Any, bounds: dict | None, typed: Any,
                           live: Live) -> Section:
    import numpy as np

    vector = vector_rows(ev)
    cols = [Column("dtype", "dtype"), Column("method", "method")]
    if any(s.transform is not None for s in ev.series):
        cols.append(Column("variant", "T / k"))
    if any(s.acc_dtype != s.dtype for s in ev.series):
        cols.append(Column("acc_dtype", "acc"))
    if vector:
        cols += [Column("worst_i", "worst i", "int"), Column("value", "value there", "value")]
    else:
        if any(s.transform is not None for s in ev.series):
            cols.append(Column("exact", "exact", "reference"))
        cols.append(Column("value", "value", "value"))
    cols.append(Column("ulp_error", "ULP err", "error"))
    cols.append(Column("status", "status", "status"))
    table = []
    shown_exact: set = set()
    for s in ev.series:
        a = s.arrays
        line: dict[str, Any] = {"dtype": s.dtype, "method": s.method, "variant": _variant(s),
                                "acc_dtype": s.acc_dtype, "ulp_error": a["ulp_error"][0],
                                "_digits": s.format.max_digits10}
        if vector:
            el = s.elements[0] if s.elements is not None else None
            if el is not None and not np.isnan(el["ulp_errors"]).all():
                u = np.where(np.isnan(el["ulp_errors"]), np.inf, el["ulp_errors"])
                j = int(np.argmax(u))
                line.update(worst_i=j, value=float(el["value"][j]))
            elif el is not None:
                line.update(worst_i="—", value=float(el["value"][0]))
            else:
                line.update(worst_i="—", value=None)
        else:
            line["value"] = a["value"][0]
            key = (s.dtype, _variant(s))
            line["exact"] = "" if key in shown_exact else _short_exact(s)
            shown_exact.add(key)
        if bounds is not None:
            line["inside"] = bounds.get((0, id(s)), (None, None, None))[2]
        line["status"] = live.status(line, s, 0)
        table.append(line)
    title = (f"{vector_name(ev)} per (dtype, method): the worst element" if vector else
             f"{TITLES.get(command, command)} of {ev.n} value(s)")
    exact = [] if vector else exact_lines(ev, typed)
    if exact:
        title += "\n" + "\n".join(exact)
    section = Section(title, cols, table)

    outside = []
    if bounds is not None:
        outside = [f"{where(s)}: outside [max, max + log(n)/k] rounded to {s.dtype}"
                   for s in ev.series if bounds.get((0, id(s)), (None, None, None))[2] is False]

    def caption(v: Any) -> str | None:
        return "\n".join(verdict_lines(ev, v) + outside) or None

    section.caption = caption(live.verdicts)
    live.captions.append((section, caption))
    return section


def compact_digits(fmt: Any) -> int:
    """Significant digits of an exact value in a compact table: the dtype's own digits plus
    two, at most 10 — enough to see a wrong digit of every narrow dtype; a float64 row's
    distance is in its ULP column, and --full and --json carry 17 correct digits."""
    return min(10, fmt.max_digits10 + 2)


def compact_exact(ref: Any, fmt: Any, wrong: Sequence[float] = ()) -> str:
    """The exact value in a compact table: :func:`compact_digits` digits, more (up to 17) while
    that text would read as one of the ``wrong`` values shown beside it (float64's 20.4 beside
    the exact 20.40000000138: the digits must show the difference the ULP column reports)."""
    from smoothcli.reference.exact import decimal_text

    d = compact_digits(fmt)
    text = decimal_text(ref, d)
    while d < 17 and any(_reads_as(text, w) for w in wrong):
        d = min(17, d + 3)
        text = decimal_text(ref, d)
    return text


def _reads_as(text: str, v: float) -> bool:
    try:
        return float(text) == v
    except ValueError:
        return False


def _short_exact(s: Any) -> str:
    """The exact value of a series to its dtype's digits plus two."""
    import mpmath

    from smoothcli.reference.exact import decimal_text

    ref = s.reference_mpf[0]
    if ref is None:
        return s.reference_decimal[0]
    return decimal_text(ref, min(17, s.format.max_digits10 + 2)) if mpmath.isfinite(ref) \
        else decimal_text(ref)


def exact_lines(ev: Any, typed: Any) -> list[str]:
    """The exact LSE once (the plain series): one line when every dtype's rounded inputs give
    the same, else the inputs as typed and each dtype's own."""
    from smoothcli.reference.exact import decimal_text

    refs: dict[str, str] = {}
    for s in ev.series:
        if s.transform is None and s.dtype not in refs:
            refs[s.dtype] = s.reference_decimal[0]
    if not refs:
        return []
    name = "LSE"
    if len(set(refs.values())) == 1 and typed is None:
        return [f"exact {name}: {next(iter(refs.values()))}"]
    out = []
    if typed is not None and not isinstance(typed, list):
        out.append(f"exact {name} of the inputs as typed: {decimal_text(typed)}")
    for d, r in refs.items():
        out.append(f"exact {name} of the {d} inputs: {r}")
    return out


def verdict_lines(ev: Any, v: Any, series: Any = None) -> list[str]:
    """Per (dtype, method) and status other than ok: the reason, then the verified advice.
    Series whose reason and advice read the same (every method on a fully masked row) share
    one entry: 'float32 naive, shifted: undefined — …'."""
    from smoothcli.report.verdict import STATUSES

    entries: dict[tuple, list[str]] = {}
    for s in ev.series if series is None else series:
        counts = v.counts(s)
        for code, status in enumerate(STATUSES):
            if code == 0 or not counts.get(status):
                continue
            i = v.worst_row(s, code)
            tail = ""
            if ev.rows > 1:
                which = "worst" if status == "inaccurate" else "first"
                if getattr(ev, "pointwise", False):
                    tail = f" at {counts[status]} of {ev.rows} points"
                else:
                    tail = f" in {counts[status]} of {ev.rows} rows ({which}: row {i})"
            key = (s.dtype, status, tail, v.reason(s, i), v.advice(s, i))
            entries.setdefault(key, []).append(where(s))
    out = []
    for (dtype, status, tail, reason, advice), names in entries.items():
        head = names[0] if len(names) == 1 else (
            names[0] + ", " + ", ".join(n.split(" ", 1)[1] for n in names[1:]))
        out.append(f"{head}: {status}{tail} — {reason}")
        out.append(f"  advice: {advice}")
    return out


def peer_notes(ev: Any) -> list[str]:
    """What each --peer row called, and the peers that refused a dtype."""
    from smoothcli.engine.peers import describe, function_name
    from smoothcli.report.rows import accumulation_text

    out = []
    for s in ev.series:
        if s.peer is None or s.transform is not None or (ev.rows > 1 and s is not next(
                x for x in ev.series if x.method == s.method and x.dtype == s.dtype)):
            continue
        inside = describe(s.method, ev.plan.kind, s.dtype)
        out.append(f"--peer {s.method} ({s.dtype}): {accumulation_text(s)}" +
                   (f"; {inside}" if inside else ""))
    out += [f"--peer {peer}: {function_name(peer, ev.plan.kind)} on {dtype} failed: "
            f"{what[:160]}" for peer, dtype, what in ev.peer_failures]
    return out


def compact_notes(command: str, ev: Any, settings: Any, typed: Any) -> list[str]:
    out = []
    out += peer_notes(ev)
    if vector_rows(ev) and any(s.arrays["ties"][0] > 1 and math.isfinite(s.arrays["max"][0]) for s in ev.series):
        out.append("the max is tied: argmax takes the first index (numpy/torch convention); "
                   "softmax splits the weight evenly between the tied entries")
    out.append("status: judged from the result (docs/verdicts.md); --full: every column")
    return out


# --- JSON pieces --------------------------------------------------------------------------

def _floats(v: Any) -> Any:
    if v is None:
        return None
    if isinstance(v, list):
        return [float(x) for x in v]
    return float(v)


def _typed_by_row(ev: Any, typed: Any) -> dict:
    """(row, dtype) -> the exact result as typed, for the dtypes whose inputs rounding changed."""
    if typed is None:
        return {}
    out = {}
    for s in ev.series:
        if s.arrays["changed_inputs"][0] > 0:
            out[(0, s.dtype)] = _floats(typed)
    return out


def input_object(ev: Any) -> dict:
    b = ev.batch
    return {"source": b.source, "format": b.kind, "stored_dtype": b.stored,
            "shape": list(b.shape), "axis": b.axis, "rows": b.rows, "n": b.n}


def input_entries(ev: Any, limit: int = INPUTS_LISTED) -> list[dict]:
    """The first ``limit`` input elements (row by row): the text given, the value in each
    dtype and whether rounding changed it."""
    import numpy as np

    from smoothcli.engine.sources import changed_mask

    b = ev.batch
    out: list[dict] = []
    for i in range(b.rows):
        if len(out) >= limit:
            break
        take = min(b.n, limit - len(out))
        given = np.asarray(b.data[i], dtype=np.float64)
        per: dict[str, tuple] = {}
        for f in ev.plan.dtypes:
            x64 = b.rounded(i, f).astype(np.float64)
            per[f.name] = (x64[:take].tolist(), changed_mask(b, i, x64, given)[:take].tolist())
        texts = ([x.text for x in b.numbers[:take]] if b.numbers is not None
                 else [repr(v) for v in given[:take].tolist()])
        for j in range(take):
            out.append({"row": i, "index": j, "text": texts[j],
                        "rounded": {d: per[d][0][j] for d in per},
                        "changed": {d: per[d][1][j] for d in per}})
    return out


# --- tables --------------------------------------------------------------------------------

def changed_section(entries: list[dict], dtypes: Sequence[str],
                    limit: int = 20) -> Section | None:
    """The inputs whose value changed when rounded to some dtype (exact decimals)."""
    from smoothcli.core.rounding import exact_decimal

    changed = [e for e in entries if any(e["changed"].values())]
    if not changed:
        return None
    cols = [Column("i", "#", "int"), Column("typed", "typed", "text")]
    cols += [Column(d, f"in {d}", "text") for d in dtypes]
    rows = []
    for e in changed[:limit]:
        row: dict[str, Any] = {"i": e["index"], "typed": e["text"]}
        for d in dtypes:
            row[d] = exact_decimal(e["rounded"][d]) if e["changed"][d] else "(exact)"
        rows.append(row)
    caption = "each value rounded once from the value given, to nearest, ties to even"
    if len(changed) > limit:
        caption += f"; {len(changed) - limit} more changed inputs not shown"
    return Section("inputs changed by rounding", cols, rows, caption)


def _variant(s: Any) -> str:
    if s.transform is None:
        return ""
    return ("T=" if s.transform.name == "temperature" else "k=") + f"{s.param:g}"


def _flags(s: Any, i: int) -> list[str]:
    out = [f for f in ("overflow", "underflow", "nan") if s.arrays[f][i]]
    if s.arrays["exceeds_bound"][i]:
        import re

        m = re.search(r"Thm (\d+\.\d+)", s.bound_rule[i])
        out.append(f"exceeds Thm {m.group(1)}" if m else "exceeds bound")
    return out


def evaluation_section(command: str, ev: Any, bounds: dict | None = None,
                       live: Live | None = None) -> Section:
    """The (dtype, method) table of a single row (``--full``)."""
    live = live or Live(Verdicts(ev))
    vector = vector_rows(ev)
    variants = any(s.transform is not None for s in ev.series)
    cols = [Column("dtype", "dtype"), Column("method", "method")]
    if variants:
        cols.append(Column("variant", "T / k"))
    if any(s.acc_dtype != s.dtype for s in ev.series):
        cols.append(Column("acc_dtype", "acc"))
    if vector:
        cols += [Column("ulp_error", "worst ULP", "error"),
                 Column("abs_error", "worst abs", "error"), Column("bits", "bits", "error"),
                 Column("error_u", "err/u", "error"), Column("bound", "bound/u", "error"),
                 Column("output_sum", "Σ out", "value"),
                 Column("sum_error", "|Σ out − 1|", "error")]
    else:
        cols += [Column("value", "value", "value"),
                 Column("reference", "reference", "reference"),
                 Column("abs_error", "abs err", "error"), Column("rel_error", "rel err", "error"),
                 Column("ulp_error", "ULP err", "error"), Column("bits", "bits", "error"),
                 Column("error_u", "err/u", "error"), Column("bound", "bound/u", "error")]
    if bounds is not None:
        cols += [Column("upper", "max + log(n)/k", "value"), Column("gap", "exact − max", "value"),
                 Column("inside", "inside", "bool")]
    cols += [Column("sumexp", "Σ exp", "value"), Column("flushed_terms", "exp→0", "int"),
             Column("flags", "flags", "flags"), Column("status", "status", "status")]
    table = []
    for s in ev.series:
        a = s.arrays
        line = {"dtype": s.dtype, "method": s.method, "variant": _variant(s),
                "acc_dtype": s.acc_dtype, "value": a["value"][0],
                "reference": s.reference_decimal[0], "abs_error": a["abs_error"][0],
                "rel_error": a["rel_error"][0], "ulp_error": a["ulp_error"][0],
                "bits": a["bits"][0], "error_u": a["error_u"][0], "bound": a["bound"][0],
                "output_sum": a["output_sum"][0], "sum_error": a["sum_error"][0],
                "sumexp": a["sumexp"][0], "flushed_terms": int(a["flushed_terms"][0]),
                "flags": _flags(s, 0), "_digits": s.format.max_digits10}
        if bounds is not None:
            gap, upper, inside = bounds.get((0, id(s)), (None, None, None))
            line.update(gap=gap, upper=upper, inside=inside)
        line["status"] = live.status(line, s, 0)
        table.append(line)
    title = f"{TITLES.get(command, command)} of {ev.n} value(s)"
    if vector:
        title = f"{vector_name(ev)} per (dtype, method)"
    section = Section(title, cols, table)

    def caption(v: Any) -> str:
        return "\n".join([*verdict_lines(ev, v), bounds_caption(ev)])

    section.caption = caption(live.verdicts)
    live.captions.append((section, caption))
    return section


def element_section(ev: Any, dtype: str) -> Section | None:
    """softmax element by element in one dtype: the elements that matter first (the argmax and
    the worst), then the others in order, up to ELEMENT_LIMIT."""
    import numpy as np

    series = [s for s in ev.series if s.dtype == dtype and s.transform is None]
    if not series or series[0].elements is None or series[0].elements[0] is None:
        return None
    first = series[0]
    ref = first.elements[0]
    x64 = ev.batch.rounded(0, first.format).astype(np.float64)
    argmax = int(first.arrays["argmax"][0])
    shown = _elements_that_matter(series, argmax, ev.n)
    cols = [Column("i", "i", "int"), Column("x", "x", "value"),
            Column("hardmax", "hardmax", "int"), Column("reference", "reference", "reference")]
    for s in series:
        cols += [Column(s.method, s.method, "value"),
                 Column(f"{s.method}_ulp", "ULP err", "error")]
    table = []
    for j in shown:
        line: dict[str, Any] = {"i": j, "x": float(x64[j]), "_digits": first.format.max_digits10,
                                "hardmax": ((1 if j == argmax else 0) if argmax >= 0
                                            else "undefined"),
                                "reference": ref["reference_decimal"][j]}
        for s in series:
            el = s.elements[0]
            line[s.method] = float(el["value"][j])
            line[f"{s.method}_ulp"] = float(el["ulp_errors"][j])
        table.append(line)
    top = first.arrays["max"][0]
    title = (f"softmax in {dtype}: max {float(top)!r}, argmax {argmax}" if argmax >= 0
             else f"softmax in {dtype}: max, argmax and hardmax undefined (NaN input)")
    caption = None
    if ev.n > len(shown):
        caption = (f"{len(shown)} of {ev.n} elements: the argmax, each method's worst element, "
                   "then the first ones; --json has them all")
    return Section(title, cols, table, caption)


def _elements_that_matter(series: list, argmax: int, n: int) -> list[int]:
    import numpy as np

    if n <= ELEMENT_LIMIT:
        return list(range(n))
    picks: list[int] = [argmax] if argmax >= 0 else []
    for s in series:
        ulp = s.elements[0]["ulp_errors"]
        if not np.isnan(ulp).all():
            w = int(np.nanargmax(ulp))
            if w not in picks:
                picks.append(w)
    for j in range(n):
        if len(picks) >= ELEMENT_LIMIT:
            break
        if j not in picks:
            picks.append(j)
    return sorted(picks)


def batch_section(command: str, ev: Any, entries: list[dict], live: Live | None = None,
                  compact: bool = False) -> Section:
    """One line per (dtype, method): counts over the rows, worst and median ULP, and the rows
    per status; the reason and advice of each status below.  ``compact``: without the flag
    counts (facts the status counts and reasons already account for; --full shows them)."""
    live = live or Live(Verdicts(ev))
    b = ev.batch
    cols = [Column("dtype", "dtype"), Column("method", "method")]
    if any(s.transform is not None for s in ev.series):
        cols.append(Column("variant", "T / k"))
    cols.append(Column("rows", "rows", "int"))
    if not compact:
        cols += [Column("overflow_rows", "overflow", "int"),
                 Column("underflow_rows", "underflow", "int"), Column("nan_rows", "NaN", "int")]
    if any(e["outside_rows"] is not None for e in entries):
        cols.append(Column("outside_rows", "outside", "int"))
    cols += [Column("ulp_error", "worst ULP", "error"),
             Column("median_ulp_error", "median ULP", "error"),
             Column("worst_row", "worst row", "int")]
    if not compact:
        cols += [Column("flushed_terms", "exp→0", "int"), Column("flags", "flags", "flags")]
    cols.append(Column("status", "status", "status"))
    table = []
    for s, e in zip(ev.series, entries):
        line = {**e, "variant": _variant(s),
                "worst_row": "—" if e["worst_row"] is None else e["worst_row"],
                "flags": [f for f in ("overflow", "underflow", "nan") if e[f + "_rows"]]}
        line["status"] = live.status(line, s, 0, "counts")
        table.append(line)
    title = f"{TITLES.get(command, command)}: {b.rows} row(s) of {b.n} — {b.describe()}"
    section = Section(title, cols, table)

    def caption(v: Any) -> str | None:
        return "\n".join(verdict_lines(ev, v)) or None

    section.caption = caption(live.verdicts)
    live.captions.append((section, caption))
    return section


def per_row_section(ev: Any, bounds: dict | None = None, live: Live | None = None) -> Section:
    live = live or Live(Verdicts(ev))
    vector = vector_rows(ev)
    cols = [Column("row", "row", "int"), Column("dtype", "dtype"), Column("method", "method")]
    if vector:
        cols += [Column("argmax", "argmax", "int"), Column("ulp_error", "worst ULP", "error"),
                 Column("abs_error", "worst abs", "error"),
                 Column("output_sum", "Σ out", "value"),
                 Column("sum_error", "|Σ out − 1|", "error")]
    else:
        cols += [Column("value", "value", "value"), Column("reference", "reference", "reference"),
                 Column("ulp_error", "ULP err", "error")]
    if bounds is not None:
        cols.append(Column("inside", "inside", "bool"))
    cols += [Column("sumexp", "Σ exp", "value"), Column("flushed_terms", "exp→0", "int"),
             Column("flags", "flags", "flags"), Column("status", "status", "status")]
    table = []
    for i in range(ev.rows):
        for s in ev.series:
            a = s.arrays
            line: dict[str, Any] = {
                "row": i, "dtype": s.dtype, "method": s.method + (" " + _variant(s)
                                                                  if s.transform else ""),
                "argmax": "—" if a["argmax"][i] < 0 else int(a["argmax"][i]),
                "ulp_error": a["ulp_error"][i], "abs_error": a["abs_error"][i],
                "output_sum": a["output_sum"][i], "sum_error": a["sum_error"][i],
                "value": a["value"][i], "reference": s.reference_decimal[i],
                "sumexp": a["sumexp"][i], "flushed_terms": int(a["flushed_terms"][i]),
                "flags": _flags(s, i), "_digits": s.format.max_digits10}
            if bounds is not None:
                line["inside"] = bounds.get((i, id(s)), (None, None, None))[2]
            line["status"] = live.status(line, s, i)
            table.append(line)
    return Section("row by row", cols, table)


# --- notes and captions ----------------------------------------------------------------------

def notes(command: str, ev: Any, settings: Any, typed: Any, show_rows: bool,
          full: bool = True) -> list[str]:
    from smoothcli.reference.exact import decimal_text

    if not full and ev.rows == 1:
        return compact_notes(command, ev, settings, typed)
    out = [sum_caption(settings)]
    caption = accumulation_caption(ev)
    if caption:
        out.append(caption)
    out += peer_notes(ev)
    if ev.rows > 1 or ev.n > 64:
        out.append(reference_note(ev))
    if ev.rows > 1:
        out.append("worst / median ULP: over the rows, of each row's ULP error (softmax: the "
                   "row's worst element); rows with a NaN result are counted, not ranked")
        b = ev.batch
        what = (f"{b.stored} values" if b.kind == "npy" else
                "decimal text (compared here with its nearest float64)")
        out.append(f"inputs: {what}, rounded once and correctly to each dtype: " + ", ".join(
            f"{k} {v} of {b.rows * b.n} changed" for k, v in ev.changed.items()))
        if not show_rows:
            out.append("--rows shows every row; --json has every row")
    if vector_rows(ev):
        out.append("Σ out: the computed outputs summed exactly, then rounded to float64")
        if ev.rows == 1 and any(s.arrays["ties"][0] > 1 and math.isfinite(s.arrays["max"][0]) for s in ev.series):
            out.append("the max is tied: argmax and hardmax take the first index (numpy/torch "
                       "convention); softmax splits the weight evenly between the tied entries")
    if typed is not None:
        if isinstance(typed, list):
            out.append("exact softmax of the inputs as typed: ["
                       + ", ".join(decimal_text(r) for r in typed[:ELEMENT_LIMIT]) + "]")
        else:
            out.append(f"exact LSE of the inputs as typed: {decimal_text(typed)} (the reference "
                       "column is exact for each dtype's rounded inputs)")
    return out


def reference_note(ev: Any) -> str:
    from smoothcli.reference.fast import TAU

    parts = []
    for dtype, kinds in ev.reference_kinds.items():
        parts.append(f"{dtype}: " + ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))
    return ("reference per row: " + "; ".join(parts) + f" (fast = vectorised with a proven bound "
            f"≤ 1/{round(1 / TAU)} ULP of the dtype; mpmath where the bound is not enough, and "
            "for rows of at most 64 values)")


def sum_caption(settings: Any) -> str:
    """One line saying how Σ exp was accumulated for each dtype shown."""
    acc = settings.accumulation
    if acc.acc is not None:
        return (f"Σ exp accumulated in {acc.acc} where that is wider than the row's dtype "
                f"(--acc {acc.acc}), --sum {acc.order}; JSON: acc_dtype, accumulation")
    if acc.order == "sequential":
        return ("Σ exp accumulated left to right, each partial sum rounded to the row's dtype "
                "(--sum sequential)")
    return "Σ exp: " + "; ".join(f"{f.name}: {acc.describe(f.name)}" for f in settings.dtypes)


def bounds_caption(ev: Any) -> str:
    """What the bits / err/u / bound/u columns mean and which theorem each method was held to."""
    from smoothcli.measure.bounds import _FORMULA, _LSE, _SOFTMAX

    text = ("bits: log2(1 + number of dtype values between the result and the correctly rounded "
            "exact value), as Herbie counts; err/u, bound/u: the measured error and the "
            "leading-order bound of Blanchard, Higham & Higham (2021), in units of u = 2^-p "
            "(LSE: |ŷ − y|/|y|, softmax: max|ĝ − g|/max g)")
    table = {} if ev.plan.kind not in ("lse", "softmax") else (
        _SOFTMAX if vector_rows(ev) else _LSE)  # gradients: no BHH theorem
    used: dict[str, list[str]] = {}
    for s in ev.series:
        entry = table.get(s.method)
        if entry is not None and function_name(ev.plan.kind, s) != "smooth_max":
            name = s.method + ("*" if entry[2] else "")
            if name not in used.setdefault(entry[0], []):
                used[entry[0]].append(name)
    if used:
        text += "\nbounds: " + "; ".join(f"Thm {t} {_FORMULA[t]}: {', '.join(ms)}"
                                         for t, ms in used.items())
        if any(m.endswith("*") for ms in used.values() for m in ms):
            text += " (* by analogy: the theorem analyses Alg. 4.1)"
    return text


def accumulation_caption(ev: Any) -> str | None:
    """How the rows accumulated, when that is not the documented default (sequential in the
    row's own dtype): --acc widening, and the online normaliser's own recurrence."""
    parts = []
    wide: dict[str, list[str]] = {}
    for s in ev.series:
        if s.acc_dtype != s.dtype and s.peer is None:
            if s.dtype not in wide.setdefault(s.acc_dtype, []):
                wide[s.acc_dtype].append(s.dtype)
    for acc, dts in wide.items():
        parts.append(f"--acc {acc}: the sums (and the online normaliser) of the {', '.join(dts)} "
                     f"rows accumulate in {acc}, their log / the division by them run in {acc}, "
                     "the result is rounded once to the row's dtype (column acc)")
    if any(s.method.startswith("online") for s in ev.series):
        parts.append("online rows: the normaliser d_j = d_(j-1)·exp(m_(j-1) − m_j) + "
                     "exp(x_j − m_j) of Milakov & Gimelshein (2018), left to right, every step "
                     "rounded (--sum does not apply)")
    return "\n".join(parts) if parts else None


__all__ = ["build", "where"]
