"""``--png FILE`` / ``--svg FILE``: a report's charts drawn with matplotlib (optional extra).

matplotlib is imported only here and only when a figure is asked for (``pip install
'smoothcli[plot]'``); without it the option fails with one line naming that command.  Drawing
uses the Agg canvas directly (no pyplot, no GUI backend, no global state), text stays text in the
SVG (``svg.fonttype = none``, so the legend can be searched), and files carry no date or version
metadata, so the same command writes the same file.

Like the terminal renderer (:mod:`smoothcli._format.chart`) this reads only the
:mod:`smoothcli.report.charts` dataclasses: the same series, the same flags.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from smoothcli.report.charts import Chart, Panel, RangeChart
from smoothcli.core.errors import InputError

INSTALL = "pip install 'smoothcli[plot]'"
FORMATS = ("png", "svg")
#: Shading of a curve's flagged stretches (matplotlib's tab: palette).
FLAG_COLOURS = {"overflow": "#d62728", "underflow": "#1f77b4", "nan": "#7f7f7f"}
BAND_COLOURS = {"normal": "#2ca02c", "subnormal": "#98df8a"}


def check_path(path: str, fmt: str) -> None:
    """``--png FILE`` must name a .png file, ``--svg FILE`` an .svg file: a value such as ``1``
    or ``--shift`` is a mistake on the command line, not a file the user wants written."""
    if not path.lower().endswith("." + fmt) or len(path) <= len(fmt) + 1:
        raise InputError(f"--{fmt} needs a file name ending in .{fmt}, not {path!r}")


def require_matplotlib(option: str) -> None:
    """Fail early, with the install command, when matplotlib cannot be imported."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise InputError(f"{option} needs matplotlib, which is not installed: "
                         f"run {INSTALL}") from None


def save(charts: Sequence[Any], path: str, fmt: str) -> None:
    """Write the report's first chart to ``path`` as ``fmt`` (png or svg)."""
    if not charts:
        raise InputError(f"--{fmt}: this command has no chart to draw")
    require_matplotlib(f"--{fmt}")
    import matplotlib

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    chart = charts[0]
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "smooth",
                                "font.size": 9}):
        if isinstance(chart, RangeChart):
            fig = _range_figure(Figure, chart)
        else:
            fig = _panels_figure(Figure, chart)
        FigureCanvasAgg(fig)
        metadata = {"Date": None} if fmt == "svg" else {"Software": None}
        try:
            fig.savefig(path, format=fmt, dpi=100, metadata=metadata)
        except OSError as e:
            raise InputError(f"--{fmt}: cannot write {path!r}: {e.strerror or e}") from None


def _panels_figure(Figure, chart: Chart):
    n = len(chart.panels)
    fig = Figure(figsize=(9.0, 1.4 + 2.5 * n), layout="constrained")
    axes = fig.subplots(n, 1, sharex=True, squeeze=False)[:, 0]
    fig.suptitle(chart.title + (f"\n{chart.command}" if chart.command else ""), fontsize=10)
    for ax, panel in zip(axes, chart.panels):
        _draw_panel(ax, panel, chart)
    axes[-1].set_xlabel(chart.x_label)
    axes[-1].set_xlim(chart.x_min, chart.x_max)
    return fig


def _draw_panel(ax, panel: Panel, chart: Chart) -> None:
    colours = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
    top = panel.y_max
    for ci, curve in enumerate(panel.curves):
        ys = [top if y == math.inf else (panel.y_min if y == -math.inf else y) for y in curve.y]
        if panel.y_scale == "log":
            ys = [max(y, panel.y_min) if not math.isnan(y) else y for y in ys]
        colour = "black" if curve.kind == "step" else colours[ci % len(colours)]
        if curve.kind == "step":
            _step(ax, curve.label, curve.x, ys, colour)
        elif curve.kind == "markers":
            ax.plot(curve.x, ys, label=curve.label, linestyle="none", marker="D",
                    markersize=5, color=colour, zorder=5)
        elif curve.kind == "line":
            ax.plot(curve.x, ys, label=curve.label, linewidth=1.6, color=colour)
        else:
            ax.plot(curve.x, ys, label=curve.label, marker=".", markersize=3, linewidth=0.8,
                    color=colour)
        if curve.spans:
            _shade_spans(ax, curve.label, curve.spans)
        elif curve.status is not None:
            _shade(ax, curve.label, curve.x, curve.status, chart)
    for y in panel.hlines:
        ax.axhline(y, linestyle=":", linewidth=0.8, color="#555555")
    if panel.y_scale == "log":
        ax.set_yscale("log")
        ax.set_ylim(panel.y_min, top * 1.5)
    else:
        pad = (top - panel.y_min) * 0.04
        ax.set_ylim(panel.y_min - pad, top + pad)
    if panel.y_ticks:
        ax.set_yticks(panel.y_ticks)
    ax.set_title(panel.title, loc="left", fontsize=9)
    ax.set_ylabel(panel.y_label)
    ax.grid(True, linewidth=0.3, alpha=0.5)
    ax.legend(loc="best", fontsize=7, framealpha=0.85)


def _step(ax, label: str, xs: Sequence[float], ys: Sequence[float], colour: str) -> None:
    """A piecewise constant function: each run of equal y as a segment, a value that differs
    from both neighbours (H(0) = 1/2) as a dot, nothing drawn across a jump."""
    i, first = 0, True
    while i < len(xs):
        j = i
        while j + 1 < len(xs) and ys[j + 1] == ys[i]:
            j += 1
        kw = dict(color=colour, label=label if first else None)
        if j > i:
            ax.plot(xs[i:j + 1], ys[i:j + 1], linewidth=1.8, **kw)
        else:
            ax.plot([xs[i]], [ys[i]], marker="o", markersize=4, linestyle="none", **kw)
        first = False
        i = j + 1


def _shade(ax, label: str, xs: Sequence[float], status: Sequence[str], chart: Chart) -> None:
    """Shade each run of points flagged with a kind (the point's leading flag), half a step
    beyond the run's first and last points, with one legend entry per kind and curve."""
    if len(xs) < 2:
        return
    half = (xs[1] - xs[0]) / 2
    kinds = [next((f for f in s.split("+") if f in FLAG_COLOURS), None) for s in status]
    labelled = set()
    i = 0
    while i < len(xs):
        k = kinds[i]
        j = i
        while j + 1 < len(xs) and kinds[j + 1] == k:
            j += 1
        if k is not None:
            lo = max(chart.x_min, xs[i] - half)
            hi = min(chart.x_max, xs[j] + half)
            ax.axvspan(lo, hi, color=FLAG_COLOURS[k], alpha=0.13, linewidth=0,
                       label=None if k in labelled else f"{label}: {k}")
            labelled.add(k)
        i = j + 1


def _shade_spans(ax, label: str, spans) -> None:
    """Shade the flagged stretches the chart gives exactly (Band: lo, hi, kind)."""
    labelled = set()
    for band in spans:
        if band.kind in FLAG_COLOURS:
            ax.axvspan(band.lo, band.hi, color=FLAG_COLOURS[band.kind], alpha=0.13, linewidth=0,
                       label=None if band.kind in labelled else f"{label}: {band.kind}")
            labelled.add(band.kind)


def _range_figure(Figure, chart: RangeChart):
    n = len(chart.rows)
    fig = Figure(figsize=(9.0, 1.9 + 0.8 * n), layout="constrained")
    ax = fig.subplots()
    fig.suptitle(chart.title + (f"\n{chart.command}" if chart.command else ""), fontsize=10)
    labelled = set()
    for i, row in enumerate(chart.rows):
        y = n - 1 - i
        for band in row.bands:
            lab = chart.legend.get(band.kind, band.kind)
            ax.barh(y, band.hi - band.lo, left=band.lo, height=0.45,
                    color=BAND_COLOURS.get(band.kind, "#777777"),
                    label=None if band.kind in labelled else lab)
            labelled.add(band.kind)
        ax.text(0, y + 0.3, row.text, ha="center", va="bottom", fontsize=7)
    ax.set_yticks(range(n), [r.label for r in reversed(chart.rows)])
    ax.set_ylim(-0.6, n - 0.1)
    if chart.x_scale == "symlog":
        import numpy as np

        # the terminal's axis exactly (chart.symlog), not matplotlib's symlog (linear in ±1)
        ax.set_xscale("function", functions=(
            lambda x: np.sign(x) * np.log10(1 + np.abs(x)),
            lambda t: np.sign(t) * (10 ** np.abs(t) - 1)))
        ticks = [0.0] + [s * 10.0 ** k for k in range(0, 7) for s in (-1, 1)
                         if 10.0 ** k <= max(abs(chart.x_min), abs(chart.x_max))]
        ticks.sort()
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.minorticks_off()
    ax.set_xlim(chart.x_min, chart.x_max)
    ax.set_xlabel(chart.x_label)
    ax.grid(True, axis="x", linewidth=0.3, alpha=0.5)
    fig.legend(loc="outside lower center", ncols=2, fontsize=7)
    return fig
