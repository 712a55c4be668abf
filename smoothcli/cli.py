"""The Typer wiring: options in, a Report out through the chosen output format.

Nothing numerical happens here; every subcommand calls one ``*_report`` function of
:mod:`smoothcli.commands` and hands the result to :func:`emit`.  Heavy modules are imported inside
the command functions so that ``smooth --help`` stays fast.

Exit status (a contract, see README "Exit codes"): 0 ok; 1 ``--check`` found a problem;
2 bad usage or bad input (one line on stderr); 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Callable, List, Optional

import click
import typer
from typing_extensions import Annotated

from smoothcli import __version__

HELP = ("Is this formula stable in this dtype? Evaluate LogSumExp, softmax and friends naively "
        "and stably in float16/32/64, against an exact mpmath reference.")

app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=False,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  rich_markup_mode=None, pretty_exceptions_enable=False)

# Negative numbers are values, not options: unknown "options" reach the values argument, where
# real numbers are kept and anything else is reported as a mistyped option (with suggestions).
NUMBERS = {"ignore_unknown_options": True}

Values = Annotated[Optional[List[str]], typer.Argument(
    help="Input numbers (decimal, inf, -inf, nan). Negative numbers need no '--'.",
    show_default=False)]
Dtype = Annotated[Optional[List[str]], typer.Option(
    "--dtype", help="float16, float32, float64 or all (repeatable or comma-separated) "
    "[default: all three].", show_default=False)]
Method = Annotated[Optional[List[str]], typer.Option(
    "--method", help="naive, shifted (repeatable or comma-separated) [default: both].",
    show_default=False)]
Sum = Annotated[str, typer.Option(
    "--sum", help="How Σ exp accumulates: 'sequential' (left to right, every partial sum "
    "rounded to the dtype) or 'pairwise' (numpy's np.sum).")]
Json = Annotated[bool, typer.Option("--json", help="Print one strict JSON document instead of "
                                    "tables.")]
Check = Annotated[bool, typer.Option("--check", help="Exit 1 if any row overflows, underflows, "
                                     "is NaN or exceeds --max-ulp.")]
MaxUlp = Annotated[Optional[str], typer.Option(
    "--max-ulp", help="With --check: also fail rows whose ULP error exceeds N.",
    metavar="N", show_default=False)]
Ks = Annotated[Optional[List[str]], typer.Option(
    "--k", help="Temperature k of the smooth max (1/k)·LSE(k·x) (repeatable).",
    show_default=False)]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smooth {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version and exit.")]
        = False) -> None:
    """Is this formula stable in this dtype?"""


def _values(ctx: typer.Context, tokens: Optional[List[str]]):
    """Parse the positional values, reporting mistyped options the way click would."""
    from smoothcli.parse import looks_like_number, parse_numbers

    tokens = list(tokens or [])
    for t in tokens:
        if t.startswith("-") and len(t) > 1 and not looks_like_number(t):
            opts = [o for p in ctx.command.params for o in p.opts if o.startswith("--")]
            raise click.NoSuchOption(t.split("=")[0], possibilities=opts, ctx=ctx)
    return parse_numbers(tokens)


def _settings(dtype, method, sum_order, methods_available):
    from smoothcli.accumulate import get_accumulation
    from smoothcli.commands._common import Settings
    from smoothcli.dtypes import resolve_dtypes
    from smoothcli.logsumexp import resolve_methods

    return Settings(resolve_dtypes(dtype), resolve_methods(method, methods_available),
                    get_accumulation(sum_order))


def _max_ulp(text: Optional[str]) -> Optional[float]:
    import math

    from smoothcli.errors import InputError

    if text is None:
        return None
    try:
        v = float(text)
    except ValueError:
        raise InputError(f"--max-ulp must be a number, not {text!r}") from None
    if not math.isfinite(v) or v < 0 or not text.isascii():
        raise InputError(f"--max-ulp must be a finite number >= 0, not {text!r}")
    return v


class BadInput(click.ClickException):
    """An InputError on its way out: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click's interface
        click.echo(f"smooth: error: {self.message}", err=True)


def emit(build: Callable[[], object], json: bool, check: bool, max_ulp: Optional[str]) -> None:
    """Build the report, render it, and exit with the documented status."""
    from smoothcli._format import get_format
    from smoothcli.errors import InputError

    try:
        limit = _max_ulp(max_ulp)
        report = build()
    except InputError as e:
        raise BadInput(str(e)) from None
    problems = report.problems(limit)  # type: ignore[attr-defined]
    shown = problems if (check or json) else []
    sys.stdout.write(get_format(json).render(report, shown))
    sys.stdout.flush()
    if check and problems:
        raise typer.Exit(1)


@app.command(context_settings=NUMBERS)
def lse(ctx: typer.Context, values: Values = None, dtype: Dtype = None, method: Method = None,
        sum: Sum = "sequential", json: Json = False, check: Check = False,
        max_ulp: MaxUlp = None) -> None:
    """LogSumExp log(Σ exp(x)): naive vs shifted (m + log Σ exp(x − m)), per dtype."""
    from smoothcli.commands.lse import lse_report
    from smoothcli.logsumexp import LSE_METHODS

    emit(lambda: lse_report(_values(ctx, values), _settings(dtype, method, sum, LSE_METHODS)),
         json, check, max_ulp)


@app.command(context_settings=NUMBERS)
def softmax(ctx: typer.Context, values: Values = None, dtype: Dtype = None,
            method: Method = None, sum: Sum = "sequential", json: Json = False,
            check: Check = False, max_ulp: MaxUlp = None) -> None:
    """softmax exp(x)/Σ exp(x): naive vs shifted, per element, with max/argmax/hardmax."""
    from smoothcli.commands.softmax import softmax_report
    from smoothcli.logsumexp import SOFTMAX_METHODS

    emit(lambda: softmax_report(_values(ctx, values),
                                _settings(dtype, method, sum, SOFTMAX_METHODS)),
         json, check, max_ulp)


@app.command("exp-range")
def exp_range(dtype: Dtype = None, json: Json = False, check: Check = False) -> None:
    """Where exp overflows and underflows in each dtype, exactly, checked against numpy."""
    from smoothcli.commands.exp_range import exp_range_report
    from smoothcli.dtypes import resolve_dtypes

    emit(lambda: exp_range_report(resolve_dtypes(dtype)), json, check, None)


@app.command(context_settings=NUMBERS)
def bounds(ctx: typer.Context, values: Values = None, k: Ks = None, dtype: Dtype = None,
           method: Method = None, sum: Sum = "sequential", json: Json = False,
           check: Check = False, max_ulp: MaxUlp = None) -> None:
    """max ≤ LSE ≤ max + log n, and the smooth max (1/k)·LSE(k·x) for each --k."""
    from smoothcli.commands.bounds import bounds_report, parse_ks
    from smoothcli.logsumexp import LSE_METHODS

    emit(lambda: bounds_report(_values(ctx, values), parse_ks(k),
                               _settings(dtype, method, sum, LSE_METHODS)),
         json, check, max_ulp)


@app.command(context_settings=NUMBERS)
def underflow(ctx: typer.Context, values: Values = None, dtype: Dtype = None,
              method: Method = None, sum: Sum = "sequential", json: Json = False,
              check: Check = False, max_ulp: MaxUlp = None) -> None:
    """exp(x) term by term: exact, rounded, normal/subnormal/zero; why the shift keeps Σ ≥ 1."""
    from smoothcli.commands.underflow import underflow_report
    from smoothcli.logsumexp import LSE_METHODS

    emit(lambda: underflow_report(_values(ctx, values) if values else None,
                                  _settings(dtype, method, sum, LSE_METHODS)),
         json, check, max_ulp)


def main() -> None:
    """Console-script entry point: maps errors to the documented exit statuses."""
    from smoothcli.errors import InputError

    try:
        rv = app(standalone_mode=False, prog_name="smooth")
        sys.exit(rv if isinstance(rv, int) else 0)
    except InputError as e:  # raised outside a command (should not happen): same contract
        sys.stderr.write(f"smooth: error: {e}\n")
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("smooth: interrupted\n")
        sys.exit(130)
    except KeyboardInterrupt:
        sys.stderr.write("smooth: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        _quiet_broken_pipe()


def _quiet_broken_pipe() -> None:
    """The reader went away (``smooth ... | head -1``): exit quietly, as Python docs advise."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass
    sys.exit(0)
