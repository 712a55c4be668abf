"""Usage errors on one line, like every other bad input: ``smooth: error: ...`` and exit 2.

click prints a usage error as three lines (``Usage: ...``, ``Try '... --help'``, ``Error: ...``)
while :class:`smoothcli.core.errors.InputError` gives one line ``smooth: error: ...``.  A script that
greps stderr, or shows the last line of a failed CI step, should not need to know which layer
refused its arguments, so the root group re-raises click's usage errors (unknown option, missing
option value, unknown command, a value click itself could not convert) as one line that keeps
click's message (and its "Did you mean ...?" suggestion) and points to the subcommand's help.

``smooth`` with no arguments still prints the help (click's ``NoArgsIsHelpError``).
"""

from __future__ import annotations

import re

import click
from typer.core import TyperGroup

# click >= 8.2 signals "no arguments: show the help" with a UsageError subclass; keep it as is.
_HELP_REQUEST = getattr(click.exceptions, "NoArgsIsHelpError", ())


class UsageLine(click.ClickException):
    """A click usage error, shown as one line on stderr; exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click's interface
        click.echo(f"smooth: error: {self.message}", err=True)


def one_line(error: click.UsageError) -> UsageLine:
    """click's message on one line, with a pointer to the help of the command concerned."""
    text = " ".join(error.format_message().split())
    # typer (TyperGroup.resolve_command) and click >= 8.2 both append the same suggestion.
    text = re.sub(r"( Did you mean [^?]*\?)\1+", r"\1", text)
    if error.ctx is not None:
        text += f" (see '{error.ctx.command_path} --help')"
    return UsageLine(text)


class OneLineErrors(TyperGroup):
    """The root command group: usage errors raised while parsing the group's own options, while
    resolving the subcommand or while parsing its options and values become one line."""

    def make_context(self, *args, **kwargs):  # noqa: D102
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as e:
            if isinstance(e, _HELP_REQUEST):
                raise
            raise one_line(e) from None

    def invoke(self, ctx):  # noqa: D102
        try:
            return super().invoke(ctx)
        except click.UsageError as e:
            if isinstance(e, _HELP_REQUEST):
                raise
            raise one_line(e) from None
