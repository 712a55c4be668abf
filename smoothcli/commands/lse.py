"""``smooth lse``: LogSumExp by each method in each dtype, against the exact value."""

from __future__ import annotations

from typing import Any

from smoothcli.commands._common import Settings, run
from smoothcli.report.model import Report


def lse_report(data: Any, settings: Settings, show_rows: bool = False,
               elements: bool = True, full: bool = False) -> Report:
    """Evaluate LSE(x) for every (dtype, method) of ``settings`` on every row of ``data``
    (typed Numbers or a Batch)."""
    from smoothcli.report.family import build

    ev, typed = run("lse", data, settings, elements=elements)
    return build("lse", ev, settings, show_rows, typed, full=full or elements)
