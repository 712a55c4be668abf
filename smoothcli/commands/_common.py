"""Pieces of report building that every evaluating subcommand shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from smoothcli.core.accumulation import Accumulation
from smoothcli.core.formats import FloatFormat
from smoothcli.core.numbers import Number
from smoothcli.engine.pipeline import RoundedInputs
from smoothcli.report.model import Column, Section, flag_names
from smoothcli.core.rounding import exact_decimal


@dataclass
class Settings:
    """Options common to the evaluating subcommands."""

    dtypes: list[FloatFormat]
    methods: list[str]
    accumulation: Accumulation = field(default_factory=Accumulation)
    peers: list[str] = field(default_factory=list)  # --peer: scipy, torch (smoothcli.engine.peers)

    def as_json(self) -> dict[str, Any]:
        return {"dtypes": [f.name for f in self.dtypes], "methods": list(self.methods),
                "sum": self.accumulation.order, "acc": self.accumulation.acc,
                "peers": list(self.peers)}


def inputs_json(numbers: Sequence[Number], rounded: Sequence[RoundedInputs]) -> list[dict]:
    """Per input token: what was typed and its value in each dtype."""
    return [{"text": x.text,
             "rounded": {r.dtype: r.values[i] for r in rounded},
             "changed": {r.dtype: r.changed[i] for r in rounded}}
            for i, x in enumerate(numbers)]


def inputs_section(numbers: Sequence[Number], rounded: Sequence[RoundedInputs],
                   limit: int = 20) -> Section | None:
    """A table of the inputs whose value changed when rounded to some dtype (exact decimals)."""
    changed = [i for i in range(len(numbers)) if any(r.changed[i] for r in rounded)]
    if not changed:
        return None
    cols = [Column("i", "#", "int"), Column("typed", "typed", "text")]
    cols += [Column(r.dtype, f"in {r.dtype}", "text") for r in rounded]
    rows = []
    for i in changed[:limit]:
        row: dict[str, Any] = {"i": i, "typed": numbers[i].text}
        for r in rounded:
            row[r.dtype] = exact_decimal(r.values[i]) if r.changed[i] else "(exact)"
        rows.append(row)
    caption = "each value rounded once from the decimal typed, to nearest, ties to even"
    if len(changed) > limit:
        caption += f"; {len(changed) - limit} more changed inputs not shown"
    return Section("inputs changed by rounding", cols, rows, caption)


def evaluation_section(title: str, rows: Sequence[Any], settings: Settings,
                       value_header: str = "value") -> Section:
    """The standard (dtype, method) table: value, reference, errors, sum, flags."""
    from smoothcli.measure.bounds import (accumulation_caption, bounds_caption,
                                        exceeded_flag)

    cols = [Column("dtype", "dtype"), Column("method", "method"),
            Column("value", value_header, "value"), Column("reference", "reference", "reference"),
            Column("abs_error", "abs err", "error"), Column("rel_error", "rel err", "error"),
            Column("ulp_error", "ULP err", "error"), Column("bits", "bits", "error"),
            Column("error_u", "err/u", "error"), Column("bound", "bound/u", "error"),
            Column("sumexp", "Σ exp", "value"),
            Column("flushed_terms", "exp→0", "int"), Column("flags", "flags", "flags")]
    if any(getattr(r, "acc_dtype", None) not in (None, r.dtype) for r in rows):
        cols.insert(2, Column("acc_dtype", "acc", "text"))  # --acc: the dtype Σ used
    digits = {f.name: f.max_digits10 for f in settings.dtypes}
    out = []
    for r in rows:
        out.append({"dtype": r.dtype, "method": r.method, "value": r.value,
                    "reference": r.reference_decimal, "abs_error": r.abs_error,
                    "rel_error": r.rel_error, "ulp_error": r.ulp_error, "sumexp": r.sumexp,
                    "bits": r.bits, "error_u": r.error_u, "bound": r.bound,
                    "acc_dtype": r.acc_dtype,
                    "flushed_terms": r.flushed_terms, "flags": flag_names(r) + exceeded_flag(r),
                    "_digits": digits.get(r.dtype, 17)})
    caption = "\n".join(c for c in (bounds_caption(rows), accumulation_caption(rows)) if c)
    return Section(title, cols, out, caption)


def sum_caption(settings: Settings) -> str:
    """One line saying how Σ exp was accumulated for each dtype shown."""
    described = {f.name: settings.accumulation.describe(f.name) for f in settings.dtypes}
    if settings.accumulation.acc is not None:  # --acc: per-row detail in the table caption
        return (f"Σ exp accumulated in {settings.accumulation.acc} where that is wider than the "
                f"row's dtype (--acc {settings.accumulation.acc}), --sum "
                f"{settings.accumulation.order}; JSON: acc_dtype, accumulation")
    if settings.accumulation.order == "sequential":
        return ("Σ exp accumulated left to right, each partial sum rounded to the row's dtype "
                "(--sum sequential)")
    return "Σ exp: " + "; ".join(f"{k}: {v}" for k, v in described.items())
