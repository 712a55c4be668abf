"""``--png FILE`` / ``--svg FILE``: a report's charts drawn with matplotlib (optional extra).

matplotlib is imported only here and only when a figure is asked for (``pip install
'smoothcli[plot]'``); without it the option fails with one line naming that command.  Drawing
uses the Agg canvas directly (no pyplot, no GUI backend, no global state), text stays text in the
SVG (``svg.fonttype = none``, so the legend can be searched), and files carry no date or version
metadata, so the same command writes the same file.

Side effects are kept to the file asked for: it is written to a temporary file in the same
directory and renamed over the target only when complete (a full disk leaves no truncated image
behind, and an existing file is untouched), and unless the user set ``MPLCONFIGDIR`` matplotlib's
configuration and font cache live in a temporary directory removed afterwards (nothing is written
under ``~/.config`` or ``~/.cache``).  That fresh cache would be rebuilt with fontconfig's
``fc-list`` on every run; matplotlib then scans the standard font directories only, so no
external program is run and the fonts found do not depend on the user's fontconfig setup.

Like the terminal renderer (:mod:`smoothcli._format.chart`) this reads only the
:mod:`smoothcli.report.charts` dataclasses: the same series, the same flags.
"""

from __future__ import annotations

import contextlib
import errno
import math
import os
from typing import Any, Iterator, Sequence

from smoothcli._usage import OutputError
from smoothcli.core.errors import InputError
from smoothcli.report.charts import Chart, Panel, RangeChart

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
    """Fail early, with the install command, when matplotlib is not installed.  It is only looked
    for here, not imported: :func:`_private_matplotlib` must be in place before the import."""
    import importlib.util

    try:
        found = importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # sys.modules["matplotlib"] is None, or a broken entry
        found = False
    if not found:
        raise InputError(f"{option} needs matplotlib, which is not installed: "
                         f"run {INSTALL}")


@contextlib.contextmanager
def _private_matplotlib() -> Iterator[None]:
    """matplotlib's configuration and cache in a temporary directory (unless MPLCONFIGDIR is set,
    or matplotlib is already imported and configured in this process), and no ``fc-list`` while
    its font list is built; the directory is removed afterwards."""
    import logging
    import sys
    import tempfile

    if "MPLCONFIGDIR" in os.environ or "matplotlib.font_manager" in sys.modules:
        yield
        return
    # matplotlib logs to stderr through logging's last-resort handler ("Could not save
    # font_manager cache" on a full disk): smooth's stderr is one line, so its log goes nowhere.
    log = logging.getLogger("matplotlib")
    quiet = logging.NullHandler()
    log.addHandler(quiet)
    propagate, log.propagate = log.propagate, False
    tmp = tempfile.mkdtemp(prefix="smooth-matplotlib-")
    path = os.environ.get("PATH")
    os.environ["MPLCONFIGDIR"] = tmp
    # An empty directory as PATH: matplotlib's fc-list call finds nothing (it catches the
    # OSError and scans the standard font directories).  An empty PATH would search the
    # current directory instead.
    os.environ["PATH"] = tmp
    try:
        try:
            import matplotlib.font_manager  # noqa: F401 - builds the font list now
        finally:
            if path is None:
                os.environ.pop("PATH", None)
            else:
                os.environ["PATH"] = path
        yield
    finally:
        os.environ.pop("MPLCONFIGDIR", None)
        log.removeHandler(quiet)
        log.propagate = propagate
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)


def save(charts: Sequence[Any], path: str, fmt: str) -> None:
    """Write the report's first chart to ``path`` as ``fmt`` (png or svg)."""
    if not charts:
        raise InputError(f"--{fmt}: this command has no chart to draw")
    require_matplotlib(f"--{fmt}")
    with _private_matplotlib():
        try:
            import matplotlib
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
        except ImportError:
            raise InputError(f"--{fmt} needs matplotlib, which cannot be imported: "
                             f"run {INSTALL}") from None

        chart = charts[0]
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "smooth",
                                    "font.size": 9}):
            if isinstance(chart, RangeChart):
                fig = _range_figure(Figure, chart)
            else:
                fig = _panels_figure(Figure, chart)
            FigureCanvasAgg(fig)
            metadata = {"Date": None} if fmt == "svg" else {"Software": None}
            _write_whole(path, fmt, lambda f: fig.savefig(f, format=fmt, dpi=100,
                                                          metadata=metadata))


def _write_whole(path: str, fmt: str, draw) -> None:
    """``draw(file)`` into a temporary file next to ``path``, then rename it to ``path``: the
    target is either the complete new image or what it was before.

    A path that cannot be created (no such directory, no permission) is a bad argument: exit 2.
    A write that fails half-way (disk full, I/O error) is an output error: exit 74, as for
    stdout."""
    import tempfile

    shown = repr(path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
                 if _has_surrogates(path) else path)
    target = os.path.realpath(path) if os.path.islink(path) else path  # write through a symlink
    folder = os.path.dirname(target) or "."
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(target) + ".",
                                   suffix=".tmp")
    except OSError as e:
        raise InputError(f"--{fmt}: cannot write {shown}: {e.strerror or e}") from None
    try:
        try:
            mode = os.stat(target).st_mode & 0o7777  # keep an existing file's permissions
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask  # what open(path, "w") would give a new file
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            draw(f)
        os.replace(tmp, target)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR):
            raise InputError(f"--{fmt}: cannot write {shown}: {e.strerror or e}") from None
        raise OutputError(f"--{fmt} {shown}: {e.strerror or e}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
