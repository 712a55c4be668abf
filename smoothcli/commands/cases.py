"""``smooth cases``: the casebook of published failures (:mod:`smoothcli.cases`)."""

from __future__ import annotations


def cases_text(name: str | None) -> str:
    """The list of cases, or one case run: its source, command, real output, cause and fix."""
    from smoothcli import cases

    return cases.listing() if name is None else cases.render(cases.get(name))
