"""``smooth softmax``: softmax by each method in each dtype, element by element, with hardmax."""

from __future__ import annotations

from typing import Any, Sequence

from smoothcli.commands._common import Settings, inputs_json, inputs_section, sum_caption
from smoothcli.methods.registry import SOFTMAX_METHODS
from smoothcli.core.numbers import Number
from smoothcli.engine.pipeline import (ReferenceCache, evaluate_softmax_like, exact_values,
                                round_inputs)
from smoothcli.reference.exact import decimal_text, softmax_reference
from smoothcli.report.model import Column, Report, Section, SoftmaxEvaluation, flag_names

#: Elements listed per dtype in the table view (JSON always has them all).
ELEMENT_LIMIT = 30


def hardmax(values: Sequence[float]) -> dict[str, Any]:
    """max, argmax (0-based, first index of a tie, as numpy and torch) and hardmax (one-hot).

    NaN inputs make all three undefined (None), as NaN has no place in an order."""
    import math

    if any(math.isnan(v) for v in values):
        return {"max": None, "argmax": None, "hardmax": None, "ties": 0}
    top = max(values)
    k = values.index(top)
    return {"max": top, "argmax": k, "hardmax": [1 if i == k else 0 for i in range(len(values))],
            "ties": sum(1 for v in values if v == top)}


def softmax_report(numbers: Sequence[Number], settings: Settings,
                   temperatures: Sequence[Number] | None = None) -> Report:
    """Evaluate softmax(x) for every (dtype, method) of ``settings``; with ``temperatures``,
    also softmax(x/T) against hardmax(x) (:mod:`smoothcli.commands.temperature`)."""
    refs = ReferenceCache(softmax_reference)
    rounded = [round_inputs(numbers, fmt) for fmt in settings.dtypes]
    typed_ref = None
    if any(r.any_changed for r in rounded):
        typed_ref = softmax_reference(exact_values(numbers))
    rows: list[SoftmaxEvaluation] = []
    sections: list[Section] = [s for s in (inputs_section(numbers, rounded),) if s is not None]
    hard, peer_notes = [], []
    for fmt, inputs in zip(settings.dtypes, rounded):
        ref = refs(inputs.values)
        mine = evaluate_softmax_like(inputs, fmt, SOFTMAX_METHODS, settings.methods,
                                     settings.accumulation, ref)
        if settings.peers:  # --peer scipy/torch (smoothcli.engine.peers)
            from smoothcli.engine.peers import peer_softmax_rows

            extra, said = peer_softmax_rows(inputs, fmt, ref, settings.peers)
            mine, peer_notes = mine + extra, peer_notes + said
        for row in mine:
            if inputs.any_changed and typed_ref is not None:
                row.reference_typed = [float(r) for r in typed_ref]
        rows.extend(mine)
        h = {"dtype": fmt.name, **hardmax(inputs.values)}
        hard.append(h)
        sections.append(_elements(fmt.name, fmt.max_digits10, inputs.values, h, mine))
    sections.append(_summary(rows, settings))
    notes = [sum_caption(settings), *peer_notes,
             "Σ out: the computed outputs summed exactly (math.fsum), then rounded to float64"]
    if any(h["ties"] and h["ties"] > 1 for h in hard):
        notes.append("the max is tied: argmax and hardmax take the first index (numpy/torch "
                     "convention); softmax splits the weight evenly between the tied entries")
    if len(numbers) > ELEMENT_LIMIT:
        notes.append(f"element tables show the first {ELEMENT_LIMIT} of {len(numbers)} elements;"
                     " --json has them all")
    if typed_ref is not None:
        notes.append("exact softmax of the inputs as typed: ["
                     + ", ".join(decimal_text(r) for r in typed_ref[:ELEMENT_LIMIT]) + "]")
    report = Report("softmax", rows, sections, notes,
                    {"settings": settings.as_json(), "inputs": inputs_json(numbers, rounded),
                     "hardmax": hard,
                     "reference_typed": None if typed_ref is None else
                     [float(r) for r in typed_ref]})
    if temperatures:  # --temperature (issue 5): rows with a "temperature" key, and a table
        from smoothcli.commands.temperature import add_temperatures

        add_temperatures(report, numbers, settings, temperatures)
    return report


def _elements(dtype: str, digits: int, xs: list[float], hard: dict,
              rows: list[SoftmaxEvaluation]) -> Section:
    cols = [Column("i", "i", "int"), Column("x", "x", "value"),
            Column("hardmax", "hardmax", "int"), Column("reference", "reference", "reference")]
    for r in rows:
        cols += [Column(f"{r.method}", r.method, "value"),
                 Column(f"{r.method}_ulp", "ULP err", "error")]
    table = []
    for i, x in enumerate(xs[:ELEMENT_LIMIT]):
        line: dict[str, Any] = {"i": i, "x": x, "_digits": digits,
                                "hardmax": hard["hardmax"][i] if hard["hardmax"] else None,
                                "reference": rows[0].reference_decimal[i] if rows else ""}
        for r in rows:
            line[r.method] = r.value[i]
            line[f"{r.method}_ulp"] = r.ulp_errors[i]
        table.append(line)
    title = (f"softmax in {dtype}: max {hard['max']!r}, argmax {hard['argmax']}"
             if hard["max"] is not None else f"softmax in {dtype}: max undefined (nan input)")
    return Section(title, cols, table)


def _summary(rows: list[SoftmaxEvaluation], settings: Settings) -> Section:
    cols = [Column("dtype", "dtype"), Column("method", "method"),
            Column("ulp_error", "worst ULP", "error"), Column("abs_error", "worst abs", "error"),
            Column("bits", "bits", "error"), Column("error_u", "err/u", "error"),
            Column("bound", "bound/u", "error"),
            Column("output_sum", "Σ out", "value"), Column("sum_error", "|Σ out − 1|", "error"),
            Column("sumexp", "Σ exp", "value"), Column("flushed_terms", "exp→0", "int"),
            Column("flags", "flags", "flags")]
    from smoothcli.measure.bounds import accumulation_caption, bounds_caption, exceeded_flag

    if any(r.acc_dtype not in (None, r.dtype) for r in rows):
        cols.insert(2, Column("acc_dtype", "acc", "text"))  # --acc: the dtype Σ used
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    out = [{"dtype": r.dtype, "method": r.method, "ulp_error": r.ulp_error,
            "abs_error": r.abs_error, "output_sum": r.output_sum, "sum_error": r.sum_error,
            "bits": r.bits, "error_u": r.error_u, "bound": r.bound, "acc_dtype": r.acc_dtype,
            "sumexp": r.sumexp, "flushed_terms": r.flushed_terms,
            "flags": flag_names(r) + exceeded_flag(r),
            "_digits": digits.get(r.dtype, 17)} for r in rows]
    caption = "\n".join(c for c in (bounds_caption(rows), accumulation_caption(rows)) if c)
    return Section("softmax per (dtype, method)", cols, out, caption)
