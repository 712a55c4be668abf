"""Output formats: one small class per format behind one interface (as pip-audit's ``_format``).

A format turns a :class:`~smoothcli.report.model.Report` into text.  Formats know how things look,
never how they are computed.
"""

from __future__ import annotations

from typing import Protocol

from smoothcli.report.model import Report


class OutputFormat(Protocol):
    def render(self, report: Report, problems: list[str]) -> str:
        """The whole output for ``report``; ``problems`` are what --check found."""


def get_format(json: bool) -> OutputFormat:
    if json:
        from smoothcli._format.json import JsonFormat

        return JsonFormat()
    from smoothcli._format.table import TableFormat

    return TableFormat()
