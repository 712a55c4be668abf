"""Stage 6 of the pipeline: the report, as plain dataclasses.

A :class:`Report` holds the rows that ``--json`` emits (the contract with users' scripts) and the
:class:`Section` s a table view shows.  Sections only say *which* fields to show under which heading
and of what kind (a value of a dtype, an error, flags...); how a kind looks on screen is the
business of :mod:`smoothcli._format`.  Nothing here imports numpy, mpmath or rich.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, Callable

SCHEMA_VERSION = 2


@dataclass
class Column:
    key: str
    header: str
    # text | int | bool | exact (a float's exact decimal, or its repr when that is long) |
    # value (a float shown with row["_digits"] significant digits) |
    # reference (pre-rounded decimal text) | error | flags | vector | status (a row's status)
    kind: str = "text"


@dataclass
class Section:
    """One table of the table view."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    caption: str | None = None


@dataclass
class Report:
    """What a subcommand found: JSON rows, table sections, notes, and top-level facts."""

    command: str
    rows: list[Any]
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # further top-level JSON keys
    # pictures (smoothcli.report.charts dataclasses) drawn as text before the tables by
    # _format/chart.py and exported by _format/figure.py (--png/--svg); never part of the JSON
    charts: list[Any] = field(default_factory=list)
    # The LSE family (smoothcli.report.family): one summary entry per (dtype, method), and the
    # problems computed from it (rows are then produced lazily, for --json only)
    summary: list[dict[str, Any]] | None = None
    check: Callable[[float | None], list[str]] | None = None
    # The compact view (smoothcli.report.family): titles, captions and notes are wrapped to this
    # many columns, so that no line of the output is longer (None: not wrapped)
    wrap: int | None = None

    def problems(self, max_ulp: float | None = None) -> list[str]:
        """What ``--check`` fails on: every row's flags (and ULP errors beyond ``max_ulp``)."""
        if self.check is not None:
            return self.check(max_ulp)
        out: list[str] = []
        for row in self.rows:
            if hasattr(row, "problems"):
                out.extend(row.problems(max_ulp))
        return out


def number_text(v: Any, digits: int = 17, nan: str = "nan") -> str:
    """A float to ``digits`` significant digits, marked as a float ("710.0", as repr does);
    inf/nan as words.  The one number format of the tables and the sentences.  At 17 digits
    (a float64) the shortest text that reads back as the same float64 (Python's repr:
    0.6931471805599453, not 0.69314718055994529)."""
    v = float(v)
    if math.isnan(v):
        return nan
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if digits >= 17:
        return repr(v)
    text = format(v, f".{digits}g")
    return text + ".0" if text.lstrip("-").isdigit() else text


def row_dict(row: Any) -> dict[str, Any]:
    """A row dataclass as a dict of its public fields (the JSON keys)."""
    return {f.name: getattr(row, f.name) for f in fields(row) if not f.name.startswith("_")}
