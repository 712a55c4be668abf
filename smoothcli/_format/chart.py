"""Charts as plain text for the terminal: a small renderer with box-drawing characters.

It draws the :mod:`smoothcli.report.charts` dataclasses and knows nothing of how their numbers were
computed.  The layout depends only on the chart (``width`` columns of plot area, ``height`` rows
per panel), never on the terminal, so the same command prints the same lines everywhere, in a pipe
as on a 40-column screen (lines are never wrapped or cut; numbers on the axes are printed in full).

Conventions:

* x is divided into ``width`` equal bins, one column each; a column shows the worst (largest) y of
  the points that fall in it, and a curve's status strip shows its flags there: ``·`` all points
  ok, ``U`` underflow, ``O`` overflow, ``N`` NaN, ``!`` more than one kind of flag in the column.
* Curves are drawn with the glyphs ``× • + o ◆ #`` in order; ``*`` marks a cell several curves
  share.  y = +inf is drawn on an extra top row labelled ``inf``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Sequence

from smoothcli.report.charts import Chart, Curve, Panel, RangeChart

GLYPHS = ("×", "•", "+", "o", "◆", "#")
SHARED = "*"
STATUS_GLYPHS = {"overflow": "O", "underflow": "U", "nan": "N"}
STATUS_OK = "·"
STATUS_MIXED = "!"
EMPTY = " "


def render(chart: Any) -> str:
    """The chart as text lines (joined with newlines, no trailing newline)."""
    if isinstance(chart, RangeChart):
        return "\n".join(_range_lines(chart))
    return "\n".join(_chart_lines(chart))


# --- numbers on axes ---------------------------------------------------------------------------

def num(v: float) -> str:
    """A tick value in full: integers as such, others by the shortest text that reads back as
    the same float (so 0.1 is '0.1', never '0.10000000000000001', and nothing is cut)."""
    v = float(v)
    if v == 0:
        return "0"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v.is_integer() and abs(v) < 1e6:
        return str(int(v))
    for p in range(1, 18):
        text = f"{v:.{p}g}"
        if float(text) == v:
            break
    mant, _, exp = text.partition("e")
    return mant + ("e" + str(int(exp)) if exp else "")


def nice_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Round values (1, 2 or 5 × 10^k apart) inside [lo, hi], at most ``max_ticks`` of them.

    Computed with Decimal so that the ticks are the decimals they are meant to be."""
    if not hi > lo or max_ticks < 2:
        return [lo, hi]
    dlo, dhi = Decimal(repr(float(lo))), Decimal(repr(float(hi)))
    raw = (dhi - dlo) / (max_ticks - 1)
    e = raw.adjusted()
    for m in (1, 2, 5, 10, 20, 50):
        step = Decimal(m) * Decimal(10) ** e
        if step >= raw:
            break
    first = int((dlo / step).to_integral_value(rounding="ROUND_CEILING"))
    last = int((dhi / step).to_integral_value(rounding="ROUND_FLOOR"))
    return [float(k * step) for k in range(first, last + 1)]


def x_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Ticks for a range whose ends mean something (a sweep's A and B): the ends and evenly
    spaced values between them when every one of them is a short decimal (-800, -400, 0, 400,
    800), else round values inside the range (:func:`nice_ticks`)."""
    from fractions import Fraction

    a, b = Fraction(repr(float(lo))), Fraction(repr(float(hi)))
    for k in range(max_ticks - 1, 0, -1):
        ticks = [a + (b - a) * i / k for i in range(k + 1)]
        if all(len(num(float(t))) <= 7 and Fraction(repr(float(t))) == t for t in ticks):
            return [float(t) for t in ticks]
    return nice_ticks(lo, hi, max_ticks)


# --- x bins --------------------------------------------------------------------------------------

def column(x: float, x_min: float, x_max: float, width: int) -> int:
    """The bin of x: [x_min, x_max] cut into ``width`` equal columns, x_max in the last one."""
    if x_max <= x_min:
        return 0
    # halved first: x_max − x_min overflows float64 for an axis from -1.7e308 to 1.7e308
    # (halving is exact for these normal numbers)
    k = math.floor((x / 2 - x_min / 2) / (x_max / 2 - x_min / 2) * width)
    return min(max(k, 0), width - 1)


def _columns(curve: Curve, chart: Chart) -> list[list[int]]:
    cols: list[list[int]] = [[] for _ in range(chart.width)]
    for i, x in enumerate(curve.x):
        if math.isfinite(x):
            cols[column(x, chart.x_min, chart.x_max, chart.width)].append(i)
    return cols


def _axis_lines(gutter: int, width: int, ticks: Sequence[tuple[int, str]]) -> list[str]:
    """The x axis line with tick marks, and the tick labels centred under them (a label that
    would touch its left neighbour is left out, never shortened)."""
    axis = ["─"] * width
    labels = [" "] * (gutter + 1 + width + 12)  # the labels may reach into the gutter
    end = -2
    for col, text in ticks:
        axis[col] = "┬"
        start = max(0, gutter + 1 + col - len(text) // 2)
        if start <= end + 1:
            continue
        for k, ch in enumerate(text):
            if start + k >= len(labels):
                labels.extend(" " * (start + k - len(labels) + 1))
            labels[start + k] = ch
        end = start + len(text) - 1
    return [" " * gutter + "└" + "".join(axis), "".join(labels).rstrip()]


# --- curves in panels ----------------------------------------------------------------------------

def _y_ticks(panel: Panel) -> list[float]:
    if panel.y_ticks:
        return list(panel.y_ticks)
    if panel.y_scale == "log":
        lo = math.floor(math.log10(panel.y_min))
        hi = math.ceil(math.log10(panel.y_max))
        step = max(1, math.ceil((hi - lo) / 4))
        return [10.0 ** k for k in range(lo, hi + 1, step)]
    return [panel.y_min, (panel.y_min + panel.y_max) / 2, panel.y_max]


def _row(y: float, panel: Panel, height: int) -> int:
    """Row of y counted from the bottom, 0 .. height - 1 (clamped to the axis range)."""
    if panel.y_scale == "log":
        lo, hi = math.log10(panel.y_min), math.log10(panel.y_max)
        t = math.log10(y) if y > 0 else -math.inf
    else:
        lo, hi, t = panel.y_min, panel.y_max, y
    if hi <= lo:
        return 0
    r = round((t - lo) / (hi - lo) * (height - 1)) if math.isfinite(t) else (
        0 if t < 0 else height - 1)
    return min(max(r, 0), height - 1)


def _strip(curve: Curve, cols: list[list[int]]) -> str:
    out = []
    for idx in cols:
        if not idx:
            out.append(EMPTY)
            continue
        kinds = set()
        for i in idx:
            st = (curve.status or ["ok"] * len(curve.x))[i]
            flags = [f for f in st.split("+") if f in STATUS_GLYPHS]
            # a point's leading flag names it (overflow+nan: the overflow caused the NaN)
            if flags:
                kinds.add(flags[0])
        out.append(STATUS_OK if not kinds else
                   STATUS_GLYPHS[kinds.pop()] if len(kinds) == 1 else STATUS_MIXED)
    return "".join(out)


def _glyphs(chart: Chart) -> dict[str, str]:
    """One glyph per curve label, the same in every panel, in order of first appearance."""
    out: dict[str, str] = {}
    for p in chart.panels:
        for c in p.curves:
            out.setdefault(c.label, GLYPHS[len(out) % len(GLYPHS)])
    return out


def _panel_lines(chart: Chart, panel: Panel, gutter: int, xticks: Sequence[tuple[int, str]],
                 glyphs: dict[str, str]) -> list[str]:
    h = chart.height
    has_inf = any(y == math.inf for c in panel.curves for y in c.y)
    rows = h + (1 if has_inf else 0)
    grid = [[EMPTY] * chart.width for _ in range(rows)]
    for r in _hline_rows(panel, h):
        grid[r] = ["┈"] * chart.width
    for curve in panel.curves:
        glyph = glyphs[curve.label]
        prev: tuple[int, int] | None = None
        for k, idx in enumerate(_columns(curve, chart)):
            ys = [curve.y[i] for i in idx if not math.isnan(curve.y[i])]
            if not ys:
                prev = None
                continue
            rows_ = [h if y == math.inf else _row(y, panel, h) for y in ys]
            if curve.kind in ("line", "step"):
                # a function: the column's whole vertical extent, joined to the previous
                # column's so that a steep stretch (or the jump of H at 0) stays connected
                lo, hi = min(rows_), max(rows_)
                if prev is not None:
                    lo, hi = min(lo, prev[1] + 1), max(hi, prev[0] - 1)
                prev = (min(rows_), max(rows_))
                span = range(lo, hi + 1)
            else:  # samples: the worst (largest) y of the column
                span = range(max(rows_), max(rows_) + 1)
            for r in span:
                cell = grid[r][k]
                grid[r][k] = glyph if cell in (EMPTY, "┈", glyph) else SHARED
    labels = {}
    for t in _y_ticks(panel):
        labels.setdefault(_row(t, panel, h), num(t))
    if has_inf:
        labels[h] = "inf"
    out = [f"{panel.title}: {panel.y_label}" if panel.y_label else panel.title]
    for r in range(rows - 1, -1, -1):
        lab = labels.get(r)
        out.append((lab + " " if lab else "").rjust(gutter) + ("┤" if lab else "│")
                   + "".join(grid[r]))
    for curve in panel.curves:
        if curve.status is not None:
            out.append((curve.label + " ").rjust(gutter) + "│"
                       + _strip(curve, _columns(curve, chart)))
    out.extend(_axis_lines(gutter, chart.width, xticks))
    return [line.rstrip() for line in out]


def _hline_rows(panel: Panel, h: int) -> list[int]:
    """Rows of the guide lines that do not sit on the bottom or top row (they would hide it)."""
    rows = {_row(y, panel, h) for y in panel.hlines}
    return sorted(r for r in rows if 0 < r < h - 1)


def _chart_lines(chart: Chart) -> list[str]:
    ylabels = [num(t) for p in chart.panels for t in _y_ticks(p)] + ["inf"]
    clabels = [c.label for p in chart.panels for c in p.curves if c.status is not None]
    gutter = max(len(s) for s in ylabels + clabels) + 2
    ticks = [(column(t, chart.x_min, chart.x_max, chart.width), num(t))
             for t in x_ticks(chart.x_min, chart.x_max, max(3, min(5, chart.width // 6 + 1)))]
    glyphs = _glyphs(chart)
    out = [chart.title]
    if chart.command:
        out.append(f"$ {chart.command}")
    for panel in chart.panels:
        out.append("")
        out.extend(_panel_lines(chart, panel, gutter, ticks, glyphs))
    out.append(" " * (gutter + 1) + chart.x_label.center(chart.width).rstrip())
    out.append("")
    legend = "   ".join(f"{g} {n}" for n, g in glyphs.items())
    out.append(legend + f"   {SHARED} several at one spot")
    if any(c.status is not None for p in chart.panels for c in p.curves):
        out.append(f"strips: {STATUS_OK} ok   U underflow   O overflow   N NaN   "
                   f"{STATUS_MIXED} several kinds in one column")
    out.extend(chart.notes)
    return [line.rstrip() for line in out]


# --- intervals on a symlog axis ------------------------------------------------------------------

def symlog(x: float) -> float:
    """sign(x)·log10(1 + |x|): linear near 0, logarithmic far from it, defined at 0."""
    return math.copysign(math.log10(1 + abs(x)), x)


def symlog_ticks(lo: float, hi: float) -> list[float]:
    out = [0.0]
    k = 1.0
    while k <= max(abs(lo), abs(hi)):
        out += [-k, k]
        k *= 10
    return sorted(t for t in out if lo <= t <= hi)


BAND_GLYPHS = {"normal": "█", "subnormal": "░"}


def _range_lines(chart: RangeChart) -> list[str]:
    w = chart.width
    tlo, thi = symlog(chart.x_min), symlog(chart.x_max)
    gutter = max(len(r.label) for r in chart.rows) + 1

    def col(x: float) -> int:
        return column(symlog(x), tlo, thi, w)

    out = [chart.title]
    if chart.command:
        out.append(f"$ {chart.command}")
    out.append("")
    for row in chart.rows:
        cells = [EMPTY] * w
        # every column a band touches shows it, the narrower band winning a shared column, so
        # no band is ever too narrow to be seen (float64's subnormal stretch of exp is less than
        # a column wide); the exact ends are printed beside the bar
        for band in sorted(row.bands, key=lambda b: symlog(b.lo) - symlog(b.hi)):
            for k in range(col(band.lo), col(band.hi) + 1):
                cells[k] = BAND_GLYPHS.get(band.kind, "#")
        out.append(row.label.rjust(gutter) + "│" + "".join(cells) + "│  " + row.text)
    ticks = [(col(t), num(t)) for t in symlog_ticks(chart.x_min, chart.x_max)]
    out.extend(_axis_lines(gutter, w, ticks))
    out.append(" " * (gutter + 1) + chart.x_label.center(w).rstrip())
    out.append("")
    out.append("   ".join(f"{BAND_GLYPHS[k]} {v}" if k in BAND_GLYPHS else f"{k}: {v}"
                           for k, v in chart.legend.items()))
    return [line.rstrip() for line in out]
