"""Stage 6 of the pipeline: the report, as plain dataclasses.

A :class:`Report` holds the rows that ``--json`` emits (the contract with users' scripts) and the
:class:`Section` s a table view shows.  Sections only say *which* fields to show under which heading
and of what kind (a value of a dtype, an error, flags...); how a kind looks on screen is the
business of :mod:`smoothcli._format`.  Nothing here imports numpy, mpmath or rich.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

SCHEMA_VERSION = 1


@dataclass
class Column:
    key: str
    header: str
    # text | int | bool | exact (a float's exact decimal, or its repr when that is long) |
    # value (a float shown with row["_digits"] significant digits) |
    # reference (pre-rounded decimal text) | error | flags | vector
    kind: str = "text"


@dataclass
class Section:
    """One table of the table view."""

    title: str
    columns: list[Column]
    rows: list[dict[str, Any]]
    caption: str | None = None


@dataclass
class Evaluation:
    """One (dtype, method) evaluation of a scalar function (LSE, smooth max, ...) and its errors."""

    dtype: str
    method: str
    value: float
    reference: float  # the float64 nearest to the exact value
    reference_decimal: str  # the exact value to 17 significant digits, correctly rounded
    abs_error: float
    rel_error: float
    ulp_error: float
    overflow: bool
    underflow: bool
    nan: bool
    flushed_terms: int  # exp terms of finite inputs that were rounded to zero
    sumexp: float  # the computed sum of exponentials, in the dtype
    accumulation: str
    reference_typed: float | None = None  # exact value for the inputs as typed, if they changed
    # issue 4 (smoothcli/measure/bounds.py): Herbie bits, BHH bound in units of u, and the
    # accumulation dtype the row's sums used
    bits: float = math.nan
    bound: float = math.nan
    error_u: float = math.nan  # the measured error in the bound's unit and measure
    exceeds_bound: bool = False
    bound_rule: str = ""
    acc_dtype: str | None = None

    def problems(self, max_ulp: float | None) -> list[str]:
        return _problems(self, max_ulp)


@dataclass
class SoftmaxEvaluation:
    """One (dtype, method) evaluation of softmax: per-element arrays and the worst case."""

    dtype: str
    method: str
    value: list[float]
    reference: list[float]
    reference_decimal: list[str]
    abs_error: float  # worst over the elements
    rel_error: float  # worst over the elements
    ulp_error: float  # worst over the elements
    abs_errors: list[float]
    rel_errors: list[float]
    ulp_errors: list[float]
    output_sum: float  # Σ of the computed outputs, summed exactly (math.fsum) then rounded
    sum_error: float  # |output_sum - 1|
    overflow: bool
    underflow: bool
    nan: bool
    flushed_terms: int
    sumexp: float
    accumulation: str
    reference_typed: list[float] | None = None
    bits: float = math.nan  # worst element (issue 4, smoothcli/measure/bounds.py)
    bound: float = math.nan
    error_u: float = math.nan
    exceeds_bound: bool = False
    bound_rule: str = ""
    acc_dtype: str | None = None
    element_bits: list[float] = field(default_factory=list)

    def problems(self, max_ulp: float | None) -> list[str]:
        return _problems(self, max_ulp)


def _problems(row: Any, max_ulp: float | None) -> list[str]:
    where = f"{row.dtype} {row.method}"
    out = [f"{where}: {flag}" for flag in ("overflow", "underflow", "nan") if getattr(row, flag)]
    if max_ulp is not None and not row.nan and not (row.ulp_error <= max_ulp):
        if not math.isnan(row.ulp_error):
            out.append(f"{where}: {row.ulp_error:.3g} ULP > --max-ulp {max_ulp:g}")
    return out


@dataclass
class Report:
    """What a subcommand found: JSON rows, table sections, notes, and top-level facts."""

    command: str
    rows: list[Any]
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # further top-level JSON keys
    # issue 7: pictures (smoothcli.report.charts dataclasses) drawn as text before the tables by
    # _format/chart.py and exported by _format/figure.py (--png/--svg); never part of the JSON
    charts: list[Any] = field(default_factory=list)

    def problems(self, max_ulp: float | None = None) -> list[str]:
        """What ``--check`` fails on: every row's flags (and ULP errors beyond ``max_ulp``)."""
        out: list[str] = []
        for row in self.rows:
            if hasattr(row, "problems"):
                out.extend(row.problems(max_ulp))
        return out


def row_dict(row: Any) -> dict[str, Any]:
    """A row dataclass as a dict of its public fields (the JSON keys)."""
    return {f.name: getattr(row, f.name) for f in fields(row) if not f.name.startswith("_")}


def flag_names(row: Any) -> list[str]:
    return [f for f in ("overflow", "underflow", "nan") if getattr(row, f, False)]
