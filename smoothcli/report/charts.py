"""What a chart shows, as plain data: the report's picture, with no numerics and no drawing.

Commands fill these dataclasses from their results (a sweep's error series, exp's safe intervals,
the unit step beside σ(kx)); :mod:`smoothcli._format.chart` draws them as text for the terminal
and :mod:`smoothcli._format.figure` as PNG/SVG with matplotlib.  Both read only what is here, so
the terminal chart and the exported figure show the same series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Point statuses a curve may carry (a sweep point's flags, joined with "+" when several).
OK = "ok"


@dataclass
class Curve:
    """One series of a panel: y against x, optionally with a status per point."""

    label: str
    x: list[float]
    y: list[float]  # NaN: no value at that x; ±inf: beyond the axis (drawn on the 'inf' row)
    status: list[str] | None = None  # per point: "ok", "overflow", "underflow", "nan", "a+b"
    # points: a sweep's samples (a column shows the worst); markers: isolated points;
    # line: a function (columns joined up); step: a piecewise constant function such as H(x)
    kind: str = "points"
    # the stretches of x where the curve is flagged, with exact ends when they are known
    # (Band kinds: overflow | underflow | nan); figures shade them
    spans: list["Band"] = field(default_factory=list)


@dataclass
class Panel:
    """One plot area; panels of a chart share the x axis."""

    title: str
    curves: list[Curve]
    y_label: str
    y_scale: str = "linear"  # linear | log
    y_min: float = 0.0
    y_max: float = 1.0
    y_ticks: list[float] = field(default_factory=list)  # empty: the renderer chooses
    hlines: list[float] = field(default_factory=list)  # dotted guides (e.g. σ = 0.01, 0.99)


@dataclass
class Chart:
    """Curves against a shared x axis, in one or more panels (e.g. one per dtype)."""

    title: str
    x_label: str
    panels: list[Panel]
    x_min: float
    x_max: float
    command: str = ""  # the command line that reproduces the chart
    width: int = 72  # terminal: columns of the plot area
    height: int = 9  # terminal: rows of each panel
    notes: list[str] = field(default_factory=list)


@dataclass
class Band:
    """A stretch [lo, hi] of the x axis of one range-chart row, of a kind."""

    lo: float
    hi: float
    kind: str  # normal | subnormal


@dataclass
class RangeRow:
    label: str
    bands: list[Band]
    text: str = ""  # the exact numbers, printed beside the bar


@dataclass
class RangeChart:
    """Intervals of x, one row each, on one shared axis (``symlog``: sign(x)·log10(1 + |x|))."""

    title: str
    x_label: str
    rows: list[RangeRow]
    x_min: float
    x_max: float
    x_scale: str = "symlog"
    command: str = ""
    width: int = 72
    legend: dict[str, str] = field(default_factory=dict)  # band kind -> meaning


#: Bounds of the terminal layout options (--width, --height).
WIDTH_RANGE = (16, 1000)
HEIGHT_RANGE = (3, 200)


def check_layout(width: int, height: int | None = None) -> None:
    """--width / --height within bounds, or an InputError naming the option."""
    from smoothcli.core.errors import InputError

    if not WIDTH_RANGE[0] <= width <= WIDTH_RANGE[1]:
        raise InputError(f"--width must be between {WIDTH_RANGE[0]} and {WIDTH_RANGE[1]} "
                         f"columns, not {width}")
    if height is not None and not HEIGHT_RANGE[0] <= height <= HEIGHT_RANGE[1]:
        raise InputError(f"--height must be between {HEIGHT_RANGE[0]} and {HEIGHT_RANGE[1]} "
                         f"rows, not {height}")
