"""The default output: rich tables, one per report section, then the notes.

Tables are laid out at their natural width, never squeezed to the terminal (numbers are never cut
or folded, and the output is the same on a terminal, in a pipe or in a 40-column window).  Colour
only on a terminal and only without NO_COLOR (rich's own rules).

When the output's encoding cannot hold smooth's symbols (``PYTHONIOENCODING=ascii``, a latin-1
terminal) every string is given ASCII stand-ins *before* the layout (Σ → "sum", − → "-", ≤ → "<=",
…; :data:`smoothcli._usage.ASCII_WORDS`), so columns stay aligned; rich then draws the rules
with ASCII too.  Charts get one-for-one stand-ins (:data:`smoothcli._usage.ASCII_CHARS`), since
their columns are positions.
"""

from __future__ import annotations

import io
import math
import os
import sys
from typing import Any

from smoothcli._usage import ASCII_CHARS, encodable, for_encoding, stream_encoding
from smoothcli.report.model import Report, Section, number_text

_WIDE = 100_000


def _ascii_simple_head():
    """rich's SIMPLE_HEAD (a rule under the header, nothing else) drawn with '-'; rich's own ASCII
    substitute would add borders around every cell."""
    from rich.box import Box

    return Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)


class _Buffer(io.StringIO):
    """The text rich lays out, claiming the real output's encoding: rich draws the table rules
    with ASCII characters when that encoding is not a UTF one (or cannot hold them)."""

    def __init__(self, encoding: str):
        super().__init__()
        self._encoding = encoding

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._encoding


def fmt_value(v: Any, digits: int = 17) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v)
    return number_text(v, digits)


def fmt_exact(v: Any, max_digits: int = 25) -> str:
    """A binary float's exact decimal value when it has at most ``max_digits`` significant digits
    (every float16 and most float32 values), else its shortest round-trip repr."""
    from decimal import Decimal

    if isinstance(v, str):  # already written (a value in its dtype's shortest text)
        return v
    if v is None or not math.isfinite(float(v)):
        return fmt_value(v)
    d = Decimal(float(v))  # exact conversion
    if len(d.as_tuple().digits) <= max_digits:
        text = format(d, "g")
        return text + ".0" if text.lstrip("-").isdigit() else text
    return repr(float(v))


def fmt_error(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    if v == 0:
        return "0"
    return fmt_value(v, 3)


def cell(kind: str, v: Any, row: dict[str, Any]) -> str:
    if kind == "value":
        return fmt_value(v, row.get("_digits", 17))
    if kind == "error":
        return fmt_error(v)
    if kind == "exact":
        return fmt_exact(v)
    if kind == "flags":
        return ", ".join(v) if v else "ok"
    if kind == "bool":
        return "yes" if v else "no"
    if kind == "vector":
        return "[" + ", ".join(fmt_value(x, row.get("_digits", 17)) for x in v) + "]"
    if kind == "int":
        return str(v)
    return "" if v is None else str(v)


#: Colours of the status words (on a terminal only; NO_COLOR and FORCE_COLOR as rich reads them).
STATUS_STYLES = {"ok": "green", "inaccurate": "bold yellow", "overflow": "bold red",
                 "underflow": "bold red", "nan": "bold red", "undefined": "bold magenta"}


def _style(kind: str, text: str) -> str | None:
    if kind == "flags":
        return "green" if text == "ok" else "bold red"
    if kind == "status":
        return STATUS_STYLES.get(text.split(" ")[0].rstrip(","), "bold red")
    if kind == "bool" and text == "no":
        return "red"
    if kind in ("value", "exact", "reference", "vector") and any(
            w in text for w in ("inf", "nan", "NaN")):
        return "red"
    return None


def wrap(text: str, width: int | None) -> str:
    """``text`` with every line wrapped at word boundaries to ``width`` columns (continuation
    lines indented by four spaces); None leaves it as it is."""
    if width is None:
        return text
    import textwrap

    out = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        lead = len(line) - len(line.lstrip(" "))
        out.extend(textwrap.wrap(line, width, subsequent_indent=" " * (lead + 4),
                                 break_long_words=False, break_on_hyphens=False))
    return "\n".join(out)


def _marked(text: str):
    """Sentences with their status words and inf/NaN coloured (rich Text, no markup parsing)."""
    import re

    from rich.text import Text

    t = Text(text)
    t.highlight_regex(re.compile(r"(?<=: )(overflow|underflow|nan|inaccurate|undefined)(?= )"),
                      "bold red")
    t.highlight_regex(re.compile(r"(?<![\w.])(-?inf|NaN)(?![\w])"), "red")
    return t


class TableFormat:
    def __init__(self, file: Any = None):
        self.file = file

    def render(self, report: Report, problems: list[str]) -> str:
        from rich.console import Console

        real = self.file if self.file is not None else sys.stdout
        encoding = stream_encoding(real)
        # A UTF encoding holds everything: skip the per-string checks.
        self._fit = (lambda text: text) if encodable("Σ−≤─", encoding) else (
            lambda text: for_encoding(text, encoding))
        out = _Buffer(encoding if encodable("─", encoding) else "ascii")
        # Colour as rich decides it for the real output: a terminal, NO_COLOR respected,
        # FORCE_COLOR honoured (https://no-color.org, https://force-color.org).
        is_tty = Console(file=real).is_terminal and not os.environ.get("NO_COLOR")
        # emoji=False: a ":name:" in a title, a file name or a note is text, not an emoji code
        # (and rich's table of emoji codes is not imported, ~2 ms of every start).
        console = Console(file=out, width=_WIDE, force_terminal=is_tty,
                          no_color=not is_tty, highlight=False, soft_wrap=False, emoji=False)
        width = getattr(report, "wrap", None)
        fit = self._fit
        if report.charts:  # charts first, as plain text of a fixed width
            from rich.text import Text

            from smoothcli._format.chart import render as render_chart

            for chart in report.charts:
                console.print(Text(for_encoding(render_chart(chart), encoding, ASCII_CHARS)))
                console.print()
        for section in report.sections:
            # Title and caption go on lines of their own: rich would wrap them to the table's
            # width, which for a narrow table breaks a sentence over many lines.
            console.print(wrap(fit(section.title), width), markup=False, style="bold",
                          soft_wrap=True)
            console.print(self._table(section))
            if section.caption:
                console.print(_marked(wrap(fit(section.caption), width)), soft_wrap=True)
                console.print()
        for note in report.notes:
            console.print(_marked(wrap(fit(note), width)), soft_wrap=True)
        if problems:
            console.print(wrap(fit(f"check: {len(problems)} problem(s): " + "; ".join(problems)),
                               width), markup=False, style="bold red", soft_wrap=True)
        return "\n".join(line.rstrip() for line in out.getvalue().splitlines()) + "\n"

    def _table(self, section: Section):
        from rich import box
        from rich.table import Table
        from rich.text import Text

        fit = getattr(self, "_fit", lambda text: text)
        # two spaces between columns (rich's default padding gives three): the compact views
        # of float64 rows, 17 significant digits beside the exact value, fit in 100 columns
        table = Table(box=box.SIMPLE_HEAD if fit("─") == "─" else _ascii_simple_head(),
                      expand=False, padding=(0, 1, 0, 0), pad_edge=False)
        for col in section.columns:
            right = col.kind in ("value", "exact", "error", "int", "reference")
            table.add_column(fit(col.header), justify="right" if right else "left",
                             no_wrap=True)
        for row in section.rows:
            cells = []
            for col in section.columns:
                text = cell(col.kind, row.get(col.key), row)
                cells.append(Text(fit(text), style=_style(col.kind, text) or ""))
            table.add_row(*cells)
        return table
