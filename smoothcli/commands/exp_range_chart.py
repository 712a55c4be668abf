"""``smooth exp-range --chart``: each dtype's range of exp as a bar on one shared axis.

The bars are drawn from the exact thresholds of :mod:`smoothcli.commands.exp_range` (no new
numerics): exp(x) is a normal number for x in [smallest_normal_x, largest_finite_x], subnormal
for x in [smallest_nonzero_x, smallest_normal_x), 0 below and inf (NaN without infinities) above.
The axis is symmetric-logarithmic, sign(x)·log10(1 + |x|), so float16's (−17.3, 11.1) and
float64's (−745, 710) are both legible on one line each.
"""

from __future__ import annotations

import math
from typing import Sequence

from smoothcli.report.charts import Band, RangeChart, RangeRow, check_layout
from smoothcli.report.model import Report

LEGEND = {"normal": "exp(x) is a normal number",
          "subnormal": "exp(x) is subnormal (gradual underflow, precision lost)"}


def exp_range_chart(rows: Sequence, command: str = "smooth exp-range --chart",
                    width: int = 72) -> RangeChart:
    """The chart of ``exp_range_report(...).rows`` (ExpRangeRow)."""
    out = []
    for r in rows:
        bands = [Band(r.smallest_nonzero_x, r.smallest_normal_x, "subnormal"),
                 Band(r.smallest_normal_x, r.largest_finite_x, "normal")]
        over = getattr(r, "overflow_value", "inf")
        text = (f"exp(x) > 0 from {_exact(r.smallest_nonzero_x)}, normal from "
                f"{_exact(r.smallest_normal_x)}, finite up to {_exact(r.largest_finite_x)} "
                f"(beyond: {over})")
        out.append(RangeRow(r.dtype, bands, text))
    reach = max(max(abs(r.smallest_nonzero_x), abs(r.largest_finite_x)) for r in rows)
    edge = 10.0 ** max(1, math.ceil(math.log10(reach)))
    return RangeChart("where exp(x) is finite and nonzero, per dtype (exact thresholds)",
                      "x   (axis: sign(x)·log10(1 + |x|))", out, -edge, edge, "symlog", command,
                      width, dict(LEGEND, **{"blank": "exp(x) rounds to 0 (left) or "
                                             "overflows (right)"}))


def add_chart(report: Report, command: str, width: int = 72) -> Report:
    check_layout(width)
    report.charts.append(exp_range_chart(report.rows, command, width))
    return report


def _exact(x: float) -> str:
    """A threshold exactly: every value of these dtypes is a short decimal up to float32."""
    from decimal import Decimal

    d = Decimal(x)
    return format(d, "f") if len(d.as_tuple().digits) <= 25 else repr(x)


def command_line(dtypes, width: int) -> str:
    """The command that reproduces the chart (non-default options only)."""
    parts = ["smooth", "exp-range", "--chart"]
    for d in dtypes or []:
        parts += ["--dtype", d]
    if width != 72:
        parts += ["--width", str(width)]
    return " ".join(parts)
