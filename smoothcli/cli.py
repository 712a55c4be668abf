"""The Typer wiring: options in, a Report out through the chosen output format.

Nothing numerical happens here; every subcommand calls one ``*_report`` function of
:mod:`smoothcli.commands` and hands the result to :func:`emit`.  Heavy modules are imported inside
the command functions so that ``smooth --help`` stays fast.

Exit status (a contract, see README "Exit codes and errors"): 0 ok; 1 ``--check`` found a
problem; 2 bad usage or bad input (one line ``smooth: error: ...`` on stderr); 130 interrupted;
70 a bug in smooth (one line ``smooth: internal error: ...``).  A closed pipe is not an error.
"""

# No ``from __future__ import annotations`` here: typer reads every parameter's annotation when it
# builds the command, and string annotations would each be evaluated again (get_type_hints) on
# every start.

import os
import signal
import sys

from smoothcli import _take_startup_sigint

# smoothcli/__init__.py took SIGINT for the start-up when this process is smooth itself (the
# console script, ``python -m smoothcli``); a program that imports smoothcli.cli (a test runner)
# keeps its own Ctrl-C.  This is the handler to put back when main() starts, or None.
_STARTUP_SIGINT = _take_startup_sigint()

from typing import Annotated, Callable, List, Optional  # noqa: E402 - after the SIGINT handler

import click  # noqa: E402
import typer  # noqa: E402

from smoothcli import __version__  # noqa: E402
from smoothcli._usage import (ARGS_KEY, EX_IOERR, GuardedStdout, OneLineErrors,  # noqa: E402
                              OutputError, for_encoding, quiet_stderr, say,
                              stream_encoding)
from smoothcli.core.errors import InputError  # noqa: E402 - a 5-line module

HELP = ("Is this formula stable in this dtype? Evaluate LogSumExp, softmax and friends naively "
        "and stably in float16/32/64, bfloat16 and float8, against an exact mpmath reference.")

# cls=OneLineErrors: click's usage errors become one line `smooth: error: ...` (see _usage.py).
app = typer.Typer(help=HELP, no_args_is_help=True, add_completion=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  rich_markup_mode=None, pretty_exceptions_enable=False, cls=OneLineErrors)

# Negative numbers are values, not options: unknown "options" reach the values argument, where
# real numbers are kept and anything else is reported as a mistyped option (with suggestions).
NUMBERS = {"ignore_unknown_options": True}

Values = Annotated[Optional[List[str]], typer.Argument(
    help="Input numbers (decimal, inf, -inf, nan). Negative numbers need no '--'.",
    show_default=False)]
Dtype = Annotated[Optional[List[str]], typer.Option(
    "--dtype", help="float16, float32, float64, bfloat16, float8_e4m3fn, float8_e5m2 or all "
    "(repeatable or comma-separated). Aliases: half, fp16, f16 (float16); single, fp32, f32 "
    "(float32); double, fp64, f64 (float64); bf16 (bfloat16); e4m3, e4m3fn, fp8_e4m3 "
    "(float8_e4m3fn); e5m2, fp8_e5m2 (float8_e5m2) [default: float16, float32, float64].",
    show_default=False)]
Method = Annotated[Optional[List[str]], typer.Option(
    "--method", help="naive, shifted (alias: stable), log1p, online; softmax also exp-lse, "
    "shifted-exp-lse, log1p-exp-lse, online-exp-lse; or all (repeatable or comma-separated) "
    "[default: naive, shifted].", show_default=False)]
Acc = Annotated[Optional[str], typer.Option(
    "--acc", help="Accumulate the sums in this wider dtype, as GPU kernels and torch's softmax "
    "do (e.g. float32 for float16/bfloat16); any --dtype name, used where it is wider than the "
    "row's dtype [default: the row's own dtype].", metavar="DTYPE", show_default=False)]
Peer = Annotated[Optional[List[str]], typer.Option(
    "--peer", help="Also show what another library returns for the same inputs and dtype: "
    "scipy, torch or jax (must be importable; repeatable).", show_default=False)]
Saturate = Annotated[bool, typer.Option(
    "--saturate", help="Round inputs beyond a dtype's range to its largest finite value (ONNX's "
    "saturating cast to float8) instead of inf, or NaN in float8_e4m3fn (ml_dtypes).")]
Sum = Annotated[str, typer.Option(
    "--sum", help="How sums accumulate: 'pairwise' (what numpy's np.sum does: pairwise, "
    "float16 partial sums in float32; bfloat16/float8 left to right in the dtype) or "
    "'sequential' (strictly left to right, every partial sum rounded to the dtype). "
    "See docs/sums.md.", metavar="pairwise|sequential")]
Json = Annotated[bool, typer.Option("--json", help="Print one strict JSON document instead of "
                                    "tables.")]
Check = Annotated[bool, typer.Option("--check", help="Exit 1 unless every row's status is ok "
                                     "(not overflow, underflow, nan, inaccurate, undefined; "
                                     "with --max-ulp N, at most N ULPs off).")]
RangeCheck = Annotated[bool, typer.Option("--check", help="Exit 1 if numpy's exp disagrees with "
                                          "the exact thresholds.")]
MaxUlp = Annotated[Optional[str], typer.Option(
    "--max-ulp", help="With --check: also fail rows whose ULP error exceeds N.",
    metavar="N", show_default=False)]
Ks = Annotated[Optional[List[str]], typer.Option(
    "--k", help="Temperature k of the smooth max (1/k)·LSE(k·x) (repeatable).",
    show_default=False)]
# files, stdin and batches (smoothcli/engine/inputs.py)
File = Annotated[Optional[str], typer.Option(
    "--file", help="Read the numbers from PATH ('-' for stdin): .npy (float16/32/64; 2-D: one "
    "result per row), .txt or .csv. Numbers are also read from stdin when none are given "
    "and stdin is not a terminal.", metavar="PATH", show_default=False)]
Axis = Annotated[Optional[int], typer.Option(
    "--axis", help="For 2-D input: the axis the values of one row run along [default: -1, "
    "the last].", metavar="N", show_default=False)]
Rows = Annotated[bool, typer.Option(
    "--rows", help="For batches (2-D or long input): print every row, not just the summary.")]
Temperatures = Annotated[Optional[List[str]], typer.Option(
    "--temperature", "-T", help="Also show softmax(x/T) against hardmax(x), with the distance "
    "to the one-hot vector (repeatable; T > 0).", metavar="T", show_default=False)]
Full = Annotated[bool, typer.Option(
    "--full", help="Show every column (errors, bits, bounds, Σ exp, flags) instead of the compact "
    "view of value, ULP error, status and reason.")]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"smooth {__version__}")
        raise typer.Exit()


@app.callback()
def root(version: Annotated[bool, typer.Option(
        "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit.")]
        = False) -> None:
    """Is this formula stable in this dtype?"""


def _values(ctx: typer.Context, tokens: Optional[List[str]]):
    """Parse the positional values, reporting mistyped options the way click would."""
    from smoothcli.core.numbers import looks_like_number, parse_numbers, split_values

    tokens = list(tokens or [])
    # Tokens after '--' are values whatever they look like ('smooth lse 1 -- --json': "not a
    # number: '--json'"); click puts them, in order, at the end of the values.
    raw = ctx.meta.get(ARGS_KEY) or []
    literal = len(raw) - raw.index("--") - 1 if "--" in raw else 0
    first_literal = len(tokens) - min(literal, len(tokens))
    opts = [o for p in ctx.command.params for o in p.opts if o.startswith("-")]
    for i, t in enumerate(tokens):
        name = t.split("=")[0]
        if i >= first_literal:
            if name in opts:  # 'smooth lse -- -800 -900 --dtype float64'
                raise InputError(_after_dashes(t, raw))
            continue
        if t.startswith("-") and len(t) > 1 and not looks_like_number(t):
            others = [o for o in opts if o.startswith("--") and o != name]
            raise click.NoSuchOption(name, possibilities=others, ctx=ctx)
    return parse_numbers(split_values(tokens), _example(ctx.info_name))


def _after_dashes(token: str, raw: List[str]) -> str:
    """The error for an option typed after '--', with the command line that works."""
    import shlex

    words = list(raw)
    words.remove("--")
    return (f"not a number: {token!r} (every word after '--' is a value: put options before "
            f"'--', or drop it, as negative numbers need no '--': "
            f"{shlex.join(['smooth', *words])})")


def _inputs(ctx: typer.Context, values, file: Optional[str], axis: Optional[int],
            rows: bool = False, none_ok: bool = False):
    """The numbers typed, or read from --file / piped stdin: a list of Numbers, a Batch, or
    None when ``none_ok`` and nothing was given.  ``--axis`` and ``--rows`` apply to 2-D input
    only: given for anything else, they are refused rather than ignored."""
    from smoothcli.core.errors import InputError
    from smoothcli.engine.inputs import Batch, read_values

    data = read_values(values, file, -1 if axis is None else axis, sys.stdin,
                       lambda t: _values(ctx, t), none_ok)
    two_d = isinstance(data, Batch) and len(data.shape) == 2
    if axis is not None and not two_d:
        raise InputError(f"--axis {axis} applies to 2-D input (a .npy file or lines of "
                         "numbers); this input is one vector")
    if rows and not (isinstance(data, Batch) and data.rows > 1):
        raise InputError("--rows applies to batches of several rows (2-D input); this input "
                         "is one row")
    return data


def _settings(dtype, method, sum_order, methods_available, acc=None, peer=None,
              saturate=False):
    from smoothcli.core.accumulation import get_accumulation
    from smoothcli.commands._common import Settings
    from smoothcli.core.formats import resolve_dtypes
    from smoothcli.methods.registry import resolve_methods
    from smoothcli.engine.peers import resolve_peers

    return Settings(resolve_dtypes(dtype), resolve_methods(method, methods_available),
                    get_accumulation(sum_order, acc), resolve_peers(peer), saturate)


def _max_ulp(text: Optional[str]) -> Optional[float]:
    """--max-ulp N: the project's number grammar (no underscores, hex or Unicode digits), finite
    and >= 0."""
    from smoothcli.core.numbers import parse_number

    if text is None:
        return None
    try:
        v = parse_number(text)
    except InputError as e:
        raise InputError(f"--max-ulp: {e}") from None
    if v.exact is None or v.exact < 0:
        raise InputError(f"--max-ulp must be a finite number >= 0, not {text!r}")
    return float(v.exact)


class BadInput(click.ClickException):
    """An InputError on its way out: one line on stderr, exit status 2."""

    exit_code = 2

    def show(self, file=None) -> None:  # noqa: D102 - click's interface
        say(f"smooth: error: {self.message}")


def emit(build: Callable[[], object], json: bool, check: bool, max_ulp: Optional[str],
         figures: Optional[dict] = None) -> None:
    """Build the report, render it, and exit with the documented status.

    ``figures`` maps "png"/"svg" to the file ``--png``/``--svg`` named: the report's
    chart is written there with matplotlib, which is checked for before anything is computed."""
    from smoothcli._format import get_format

    figures = {k: v for k, v in (figures or {}).items() if v}
    try:
        limit = _max_ulp(max_ulp)
        if max_ulp is not None and not (check or json):
            raise InputError("--max-ulp applies with --check (which fails beyond it) or --json "
                             "(whose problems list it fills)")
        if figures:
            from smoothcli._format.figure import check_path, require_matplotlib

            for fmt, path in figures.items():
                check_path(path, fmt)
            require_matplotlib("--" + next(iter(figures)))
        report = build()
        for fmt, path in figures.items():
            from smoothcli._format.figure import save

            save(report.charts, path, fmt)  # type: ignore[attr-defined]
    except InputError as e:
        raise BadInput(str(e)) from None
    problems = report.problems(limit)  # type: ignore[attr-defined]
    shown = problems if (check or json) else []
    out = sys.stdout
    if out is None:  # started with stdout closed (`smooth lse 1 >&-`)
        raise OutputError("Bad file descriptor (standard output is closed)")
    # JSON is ASCII already; a table's symbols fall back to ASCII where the encoding lacks them
    text = for_encoding(get_format(json).render(report, shown), stream_encoding(out))
    try:
        out.write(text)
        out.flush()
    except BrokenPipeError:
        # The reader went away (`smooth ... | head -1`): stop writing, quietly, but let --check
        # still decide the exit status (1 must keep meaning "a problem was found").
        _silence_stdout()
    except (OSError, ValueError) as e:  # a full disk, an I/O error, a closed file
        raise OutputError(getattr(e, "strerror", None) or str(e)) from None
    if check and problems:
        raise typer.Exit(1)


@app.command(context_settings=NUMBERS)
def lse(ctx: typer.Context, values: Values = None, dtype: Dtype = None, method: Method = None,
        sum: Sum = "pairwise", json: Json = False, check: Check = False,
        max_ulp: MaxUlp = None, acc: Acc = None, peer: Peer = None, file: File = None,
        axis: Axis = None, rows: Rows = False, full: Full = False,
        saturate: Saturate = False) -> None:
    """LogSumExp log(Σ exp(x)): naive vs shifted (m + log Σ exp(x − m)), per dtype."""
    from smoothcli.commands.lse import lse_report
    from smoothcli.methods.registry import LSE_METHODS

    emit(lambda: lse_report(_inputs(ctx, values, file, axis, rows),
                            _settings(dtype, method, sum, LSE_METHODS, acc, peer, saturate),
                            rows, json, full=full),
         json, check, max_ulp)


@app.command(context_settings=NUMBERS)
def softmax(ctx: typer.Context, values: Values = None, dtype: Dtype = None,
            method: Method = None, sum: Sum = "pairwise", json: Json = False,
            check: Check = False, max_ulp: MaxUlp = None, acc: Acc = None,
            peer: Peer = None, temperature: Temperatures = None, file: File = None,
            axis: Axis = None, rows: Rows = False, full: Full = False,
            saturate: Saturate = False) -> None:
    """softmax exp(x)/Σ exp(x): naive vs shifted, per element, with max/argmax/hardmax."""
    from smoothcli.commands.softmax import softmax_report
    from smoothcli.commands.temperature import parse_temperatures
    from smoothcli.methods.registry import SOFTMAX_METHODS

    emit(lambda: softmax_report(_inputs(ctx, values, file, axis, rows),
                                _settings(dtype, method, sum, SOFTMAX_METHODS, acc, peer,
                                          saturate),
                                parse_temperatures(temperature), rows, json, full=full),
         json, check, max_ulp)


# --- sweeps and charts ----------------------------------------------------------------------------

Png = Annotated[Optional[str], typer.Option(
    "--png", help="Also write the chart to FILE as a PNG image (needs matplotlib: "
    "pip install 'smoothcli[plot]').", metavar="FILE", show_default=False)]
Svg = Annotated[Optional[str], typer.Option(
    "--svg", help="Also write the chart to FILE as an SVG image (needs matplotlib: "
    "pip install 'smoothcli[plot]').", metavar="FILE", show_default=False)]
Width = Annotated[int, typer.Option(
    "--width", help="Columns of the terminal chart's plot area (the output never depends on "
    "the terminal).", metavar="N")]


@app.command("exp-range")
def exp_range(dtype: Dtype = None, json: Json = False, check: RangeCheck = False,
              chart: Annotated[bool, typer.Option(
                  "--chart", help="Also draw each dtype's range of exp on one shared axis.")]
              = False, png: Png = None, svg: Svg = None, width: Width = 72,
              full: Annotated[bool, typer.Option(
                  "--full", help="Show every column (exact thresholds, ln(max), max, smallest "
                  "normal and subnormal, eps) instead of the compact one row per dtype.")]
              = False) -> None:
    """Where exp overflows and underflows in each dtype, exactly, checked against numpy."""
    from smoothcli.commands.exp_range import exp_range_report
    from smoothcli.core.formats import resolve_dtypes

    def build():
        report = exp_range_report(resolve_dtypes(dtype), full=full)
        if chart or png or svg:
            from smoothcli.commands.exp_range_chart import add_chart, command_line

            add_chart(report, command_line(dtype, width), width)
        return report

    emit(build, json, check, None, {"png": png, "svg": svg})


@app.command(context_settings=NUMBERS)
def bounds(ctx: typer.Context, values: Values = None, k: Ks = None, dtype: Dtype = None,
           method: Method = None, sum: Sum = "pairwise", json: Json = False,
           check: Check = False, max_ulp: MaxUlp = None, acc: Acc = None,
           file: File = None, axis: Axis = None, rows: Rows = False,
           full: Full = False) -> None:
    """max ≤ LSE ≤ max + log n, and the smooth max (1/k)·LSE(k·x) for each --k."""
    from smoothcli.commands.bounds import bounds_report, parse_ks
    from smoothcli.methods.registry import LSE_METHODS

    emit(lambda: bounds_report(_inputs(ctx, values, file, axis, rows), parse_ks(k),
                               _settings(dtype, method, sum, LSE_METHODS, acc), rows, json,
                               full=full),
         json, check, max_ulp)


@app.command(context_settings=NUMBERS)
def underflow(ctx: typer.Context, values: Values = None, dtype: Dtype = None,
              method: Method = None, sum: Sum = "pairwise", json: Json = False,
              check: Check = False, max_ulp: MaxUlp = None, acc: Acc = None,
              file: File = None, axis: Axis = None, rows: Rows = False,
              full: Full = False) -> None:
    """exp(x) term by term: exact, rounded, normal/subnormal/zero; why the shift keeps Σ ≥ 1."""
    from smoothcli.commands.underflow import underflow_report
    from smoothcli.methods.registry import LSE_METHODS

    emit(lambda: underflow_report(_inputs(ctx, values, file, axis, rows, none_ok=True),
                                  _settings(dtype, method, sum, LSE_METHODS, acc), rows, json,
                               full=full),
         json, check, max_ulp)


@app.command(context_settings=NUMBERS)
def sweep(ctx: typer.Context,
          function: Annotated[str, typer.Argument(
              help="lse, softmax, exp or sigmoid (also softplus, log_sigmoid).",
              show_default=False)],
          values: Values = None,
          shift: Annotated[Optional[str], typer.Option(
              "--shift", help="Evaluate on x + c for c from A to B.", metavar="A:B",
              show_default=False)] = None,
          scale: Annotated[Optional[str], typer.Option(
              "--scale", help="Evaluate on c·x for c from A to B.", metavar="A:B",
              show_default=False)] = None,
          steps: Annotated[int, typer.Option(
              "--steps", help="Number of evenly spaced values of c, ends included.",
              metavar="N")] = 201,
          unit: Annotated[str, typer.Option(
              "--unit", help="Error unit of the chart: 'bits' (Herbie: log2(1 + values "
              "between result and correctly rounded exact value)) or 'ulp'.",
              metavar="bits|ulp")] = "bits",
          dtype: Dtype = None, method: Method = None, sum: Sum = "pairwise",
          acc: Acc = None, width: Width = 72,
          height: Annotated[int, typer.Option(
              "--height", help="Rows of each panel of the terminal chart.", metavar="N")] = 8,
          png: Png = None, svg: Svg = None, json: Json = False, check: Check = False,
          max_ulp: MaxUlp = None,
          full: Annotated[bool, typer.Option(
              "--full", help="Show the tables with every column (worst ULP error, exact c of "
              "each status change, the steps around it) instead of the compact view.")]
          = False) -> None:
    """Error against c of a function on x + c (--shift) or c·x (--scale), as a chart."""

    def build():
        from smoothcli.core.accumulation import get_accumulation
        from smoothcli.commands.sweep import sweep_report
        from smoothcli.core.formats import resolve_dtypes
        from smoothcli.engine.sweep import parse_sweep, parse_unit

        return sweep_report(function, _values(ctx, values), parse_sweep(shift, scale, steps),
                            resolve_dtypes(dtype), method, get_accumulation(sum, acc),
                            parse_unit(unit), width, height, full=full)

    emit(build, json, check, max_ulp, {"png": png, "svg": svg})


# --- sigmoid / softplus / log σ, smooth |x| and max, smooth metrics -------------------------------

PointMethod = Annotated[Optional[List[str]], typer.Option(
    "--method", help="naive, stable (repeatable or comma-separated) [default: both].",
    show_default=False)]
AbsMethod = Annotated[Optional[List[str]], typer.Option(
    "--method", help="naive, cosh, stable (repeatable or comma-separated) [default: all three].",
    show_default=False)]
MetricsMethod = Annotated[Optional[List[str]], typer.Option(
    "--method", help="stable, naive (repeatable or comma-separated) [default: stable].",
    show_default=False)]
SharpK = Annotated[Optional[List[str]], typer.Option(
    "--k", help="Sharpness k: σ(k·x) replaces the unit step (repeatable; k > 0) [default: 1].",
    show_default=False)]


def _plain_settings(dtype, method, methods, default=None, sum_order="pairwise", acc=None,
                    peer=None):
    """Settings for sigmoid, abs and metrics: their own method names."""
    from smoothcli.core.accumulation import get_accumulation
    from smoothcli.commands._common import Settings
    from smoothcli.core.formats import resolve_dtypes
    from smoothcli.methods.registry import resolve_methods

    from smoothcli.engine.peers import resolve_peers

    names = resolve_methods(method, methods) if method else list(default or methods)
    return Settings(resolve_dtypes(dtype), names, get_accumulation(sum_order, acc),
                    resolve_peers(peer))


def _sharpness(k):
    from smoothcli.commands.bounds import parse_ks
    from smoothcli.core.numbers import parse_number

    return parse_ks(k) if k else [parse_number("1")]


@app.command(context_settings=NUMBERS)
def sigmoid(ctx: typer.Context, values: Values = None,
            softplus: Annotated[bool, typer.Option(
                "--softplus", help="Also softplus(x) = log(1 + e^x), the smooth max(x, 0).")]
            = False,
            log_sigmoid: Annotated[bool, typer.Option(
                "--log-sigmoid", help="Also log σ(x) = −softplus(−x), the smooth min(x, 0).")]
            = False,
            beta: Annotated[Optional[float], typer.Option(
                "--beta", help="Also torch's softplus(x, beta, threshold): x where βx > "
                "threshold, else log1p(e^(βx))/β, in float32 for 16-bit dtypes (β > 0).",
                show_default=False)] = None,
            threshold: Annotated[Optional[float], typer.Option(
                "--threshold", help="The threshold of torch's softplus form [default: 20 when "
                "--beta is given].", show_default=False)] = None,
            dtype: Dtype = None, method: PointMethod = None, json: Json = False,
            check: Check = False, max_ulp: MaxUlp = None, peer: Peer = None,
            chart: Annotated[bool, typer.Option(
                "--chart", help="Also draw the unit step H(x) beside σ(kx) for k = 1, 2, 5 "
                "(no values needed).")] = False,
            png: Png = None, svg: Svg = None, width: Width = 72,
            full: Annotated[bool, typer.Option(
                "--full", help="Show every column (abs / rel error, the computed exponential) "
                "and the identity softmax([0, s]) = [1 − σ(s), σ(s)], instead of the compact "
                "view of value, ULP error, flags and the exact value.")] = False) -> None:
    """σ(x) = 1/(1 + e^(−x)) naive vs stable beside the unit step H(x); softmax([0, s])."""
    from smoothcli.commands.sigmoid import resolve_functions, sigmoid_report
    from smoothcli.methods.sigmoid import SIGMOID_METHODS

    def build():
        drawn = chart or png or svg  # the chart needs no values
        numbers = _values(ctx, values) if (values or not drawn) else []
        if numbers:
            report = sigmoid_report(numbers, _plain_settings(dtype, method, SIGMOID_METHODS,
                                                             peer=peer),
                                    resolve_functions(softplus, log_sigmoid, beta, threshold),
                                    full=full)
        else:
            from smoothcli.report.model import Report

            report = Report("sigmoid", [])
        if drawn:
            from smoothcli.commands.sigmoid_chart import add_chart, command_line

            add_chart(report, numbers, command_line(numbers, width), width)
        return report

    emit(build, json, check, max_ulp, {"png": png, "svg": svg})


@app.command("abs", context_settings=NUMBERS)
def abs_(ctx: typer.Context, values: Values = None, k: SharpK = None, dtype: Dtype = None,
         method: AbsMethod = None, json: Json = False, check: Check = False,
         max_ulp: MaxUlp = None,
         full: Annotated[bool, typer.Option(
             "--full", help="Show every column (|x| − f_k, 2·log(2)/k, the computed "
             "exponential, the seed's form of the max) instead of the compact view of value, "
             "ULP error, flags and the exact value.")] = False) -> None:
    """|x| vs its smooth form (2/k)·log cosh(kx/2); with two values, max(x, y) → LSE."""
    from smoothcli.commands.smooth_abs import abs_report
    from smoothcli.methods.smooth_abs import SMOOTH_ABS_METHODS

    emit(lambda: abs_report(_values(ctx, values), _sharpness(k),
                            _plain_settings(dtype, method, SMOOTH_ABS_METHODS), full=full),
         json, check, max_ulp)


@app.command("grad", context_settings=NUMBERS)
def grad(ctx: typer.Context,
         function: Annotated[str, typer.Argument(
             help="lse (∇LSE = softmax; --k: the smooth max), softmax and log-softmax "
             "(vector–Jacobian products, --cotangent), cross-entropy (--label), sigmoid, "
             "softplus, log-sigmoid, abs (the smooth |x|, with --k) or max (its subgradient "
             "conventions).",
             show_default=False)],
         values: Values = None, k: SharpK = None, dtype: Dtype = None,
         method: Annotated[Optional[List[str]], typer.Option(
             "--method", help="naive, stable; abs also cosh, tanh; max: first, split, all, "
             "argmax (repeatable or comma-separated) [default: all].",
             show_default=False)] = None,
         json: Json = False, check: Check = False, max_ulp: MaxUlp = None,
         cotangent: Annotated[Optional[List[str]], typer.Option(
             "--cotangent", help="softmax, log-softmax: the cotangent g of the vector–Jacobian "
             "product, one value per input (default: the one-hot of the argmax for softmax, all "
             "ones for log-softmax).", metavar="VALUES", show_default=False)] = None,
         label: Annotated[Optional[int], typer.Option(
             "--label", help="cross-entropy: the index of the right class (0-based).",
             show_default=False)] = None, peer: Peer = None, file: File = None,
         axis: Axis = None,
         full: Annotated[bool, typer.Option(
             "--full", help="Show every column (abs / rel error, the computed exponential, the "
             "flags) instead of the compact view of value, ULP error, status and the exact "
             "value.")] = False) -> None:
    """Derivatives as autodiff computes them from each form, against the exact derivative."""
    from smoothcli.commands.grad import VECTOR, grad_report, methods_of, resolve

    def build():
        name = resolve(function)
        if name == "max":
            from smoothcli.commands.grad_max import grad_max_report

            return grad_max_report(_values(ctx, values), k, dtype, method)
        if name in VECTOR:
            from smoothcli.commands.grad import DEFAULT_METHODS, vector_grad_report
            from smoothcli.core.numbers import parse_number

            g = None
            if cotangent:
                g = [parse_number(t) for part in cotangent for t in part.replace(",", " ").split()]
            return vector_grad_report(name, _inputs(ctx, values, file, axis),
                                      _sharpness(k) if k else None,
                                      g, label, _plain_settings(dtype, method, methods_of(name),
                                                                DEFAULT_METHODS[name], peer=peer),
                                      full=full or json)  # --json: every element, as lse does
        return grad_report(name, _inputs(ctx, values, file, axis), _sharpness(k) if k else None,
                           _plain_settings(dtype, method, methods_of(name), peer=peer),
                           full=full)

    emit(build, json, check, max_ulp)


@app.command()
def metrics(
        logits: Annotated[Optional[str], typer.Option(
            "--logits", help="Logits: numbers (\"2.5,-1,0.3\"; multi-class rows separated by "
            "';') or a .npy/.txt/.csv file.", metavar="VALUES|FILE", show_default=False)] = None,
        labels: Annotated[Optional[str], typer.Option(
            "--labels", help="Labels: 0/1 (binary), class indices or one-hot rows; numbers or a "
            ".npy/.txt/.csv file.", metavar="VALUES|FILE", show_default=False)] = None,
        k: SharpK = None,
        task: Annotated[str, typer.Option(
            "--task", help="auto (2-D logits: multi-class), binary or multiclass.",
            metavar="auto|binary|multiclass")] = "auto",
        dtype: Dtype = None, method: MetricsMethod = None, sum: Sum = "pairwise",
        acc: Acc = None, json: Json = False, check: Check = False,
        max_ulp: MaxUlp = None,
        full: Annotated[bool, typer.Option(
            "--full", help="Show every column (abs error, the full hard value, why a value is "
            "undefined) instead of the compact view of value, ULP error, flags and the exact "
            "value.")] = False) -> None:
    """Hard vs smooth accuracy, precision, recall, F1 and cross-entropy over a batch."""
    from smoothcli.commands.metrics import metrics_report, read_grid
    from smoothcli.methods.metrics import METHOD_NAMES

    methods = dict.fromkeys(METHOD_NAMES)
    emit(lambda: metrics_report(read_grid(logits, "--logits"), read_grid(labels, "--labels"),
                                _sharpness(k),
                                _plain_settings(dtype, method, methods, ["stable"], sum, acc),
                                task, full=full),
         json, check, max_ulp)


@app.command("cases")
def cases_(name: Annotated[Optional[str], typer.Argument(
        help="A case to run (smooth cases lists them).", show_default=False)] = None) -> None:
    """Published failures (pytorch, jax, numpy, ...): the command that reproduces each, its real
    output, the cause and the adopted fix as smooth evaluates it."""
    from smoothcli.commands.cases import cases_text

    try:
        text = cases_text(name)
    except InputError as e:
        raise BadInput(str(e)) from None
    typer.echo(text, nl=False)


# --- examples in every --help ---------------------------------------------------------------------

#: Command lines shown under "Examples:" in each command's --help (each one runs: exit 0 or 1);
#: the first is also the example of the "no values given" error.
EXAMPLES = {
    "lse": ["smooth lse 710 12",
            "smooth lse -800 -900 --dtype float64",
            "smooth lse 1,2,3 --dtype bf16,fp16 --method all",
            "smooth lse 0 0 0 0 --sum sequential --acc float32 --dtype half",
            "printf '1 2 3\\n4 5 6\\n' | smooth lse --rows --json"],
    "softmax": ["smooth softmax 2.0 1.0 0.1",
                "smooth softmax '[0.5, 1.5, -2.0]' --dtype float16 --method stable",
                "smooth softmax 1000 1000 --dtype e4m3 --check",
                "smooth softmax 3 1 0.2 -T 0.5 -T 2",
                "echo '[[1, 2, 3], [4, 5, 6]]' | smooth softmax --json"],
    "exp-range": ["smooth exp-range",
                  "smooth exp-range --dtype bf16,e4m3,e5m2 --chart",
                  "smooth exp-range --dtype all --json --check"],
    "bounds": ["smooth bounds 1 2 3 --k 10",
               "smooth bounds 710 12 --dtype float16 --method stable --check"],
    "underflow": ["smooth underflow",
                  "smooth underflow -120 -100 0 --dtype float32,bf16"],
    "sweep": ["smooth sweep lse 1 2 3 --shift 0:800 --steps 41",
              "smooth sweep softmax 0 1 2 --scale 1:100 --dtype fp16 --unit ulp",
              "smooth sweep sigmoid -5 5 --shift -50:50 --method stable"],
    "sigmoid": ["smooth sigmoid -20 0 20",
                "smooth sigmoid -800 800 --softplus --log-sigmoid --dtype float64",
                "smooth sigmoid --chart"],
    "abs": ["smooth abs -1 0.5 --k 10",
            "smooth abs 3 5 --method stable"],
    "grad": ["smooth grad sigmoid 37.43 --dtype float64",
             "smooth grad softplus -100 0 100 --dtype float32",
             "smooth grad abs 1e-6 3 --k 10 --method naive,stable",
             "smooth grad max 1000 1000.2 3 --dtype float16,float64"],
    "cases": ["smooth cases", "smooth cases pytorch-25110"],
    "metrics": ["smooth metrics --logits 2.5,-1,0.3 --labels 1,0,1",
                "smooth metrics --logits '2,1,0;0,3,1' --labels 0,1 --dtype bf16 --acc float32"],
}
ROOT_EXAMPLES = ["smooth lse 710 12", "smooth softmax 2.0 1.0 0.1 --dtype bf16",
                 "smooth exp-range --dtype all", "smooth -V"]


def _epilog(lines: List[str]) -> str:
    # "\b": click keeps the paragraph's lines as they are instead of rewrapping them
    return "\b\nExamples:\n" + "\n".join("  " + line for line in lines)


def _example(command: Optional[str]) -> str:
    return EXAMPLES.get(command or "", EXAMPLES["lse"])[0]


app.info.epilog = _epilog(ROOT_EXAMPLES)
for _info in app.registered_commands:
    _info.epilog = _epilog(EXAMPLES[_info.name or _info.callback.__name__])  # type: ignore

#: Every subcommand (``_run`` hands click a group of one; a command that runs others in-process,
#: ``smooth cases``, needs them all).
ALL_COMMANDS = tuple(app.registered_commands)


def main() -> None:
    """Console-script entry point: maps errors to the documented exit statuses.

    Ctrl-C: before this runs, smoothcli/__init__.py answers it (one line, 130); while the command
    runs it is a KeyboardInterrupt, answered the same way by :func:`_main`; once the exit status
    is decided it is ignored, so that neither the unwinding nor the interpreter's own clean-up
    (where Python's default would kill the process, status -2, after a complete output) can
    change the status.  Only the process smooth is gets that last step: a program calling main()
    in-process (a test) keeps its own Ctrl-C."""
    try:
        _main()
    except KeyboardInterrupt:  # landed while _main was already answering something else
        _finishing()
        say("smooth: interrupted")
        sys.exit(130)
    finally:
        _finishing()


def _unraisable(hook: Callable) -> Callable:
    """sys.unraisablehook for smooth's process: a KeyboardInterrupt raised where Python can only
    report it ("Exception ignored in ...": a weakref callback of the import machinery, a
    finaliser) is delivered again, to be answered where it can be (the line and 130) -- neither
    lost nor printed as a traceback.  Anything else goes to ``hook``.

    It is delivered by another thread (``_thread.interrupt_main``), which runs once this thread
    lets go of the GIL, i.e. after the hook has returned: a SIGINT raised from the hook itself
    would be handled inside the hook, and be reported as ignored again."""

    def handle(unraisable) -> None:
        if isinstance(unraisable.exc_type, type) and issubclass(unraisable.exc_type,
                                                                 KeyboardInterrupt):
            import _thread

            _thread.start_new_thread(_thread.interrupt_main, ())
            return
        hook(unraisable)

    return handle


def _caused_by_interrupt(e: BaseException) -> bool:
    """Whether a KeyboardInterrupt is among the causes of ``e`` (``raise ... from``, or raised
    while handling it)."""
    seen = set()
    cause: Optional[BaseException] = e
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
    return False


def _finishing() -> None:
    if _STARTUP_SIGINT is not None:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass


def _main() -> None:
    """The command line run, every outcome mapped to its exit status (SystemExit)."""
    stdout = sys.stdout
    try:
        # Start-up is over: from here Ctrl-C is a KeyboardInterrupt, answered below.
        if _STARTUP_SIGINT is not None:
            sys.unraisablehook = _unraisable(sys.unraisablehook)
            signal.signal(signal.SIGINT, _STARTUP_SIGINT)
        sys.stdout = GuardedStdout(stdout)  # type: ignore[assignment]
        rv = _run(sys.argv[1:])
        # A write error must surface here, not in the interpreter's final flush (status 120).
        sys.stdout.flush()
    except SystemExit:
        # typer.core._main answers EPIPE outside emit() (--help, --version) with sys.exit(1),
        # after wrapping stdout in click's PacifyFlushWrapper; 1 would read as "--check failed".
        if isinstance(sys.stdout, click.utils.PacifyFlushWrapper):
            _quiet_broken_pipe()
        raise
    except KeyboardInterrupt:
        say("smooth: interrupted")
        sys.exit(130)
    except click.exceptions.Abort:
        say("smooth: interrupted")
        sys.exit(130)
    except OutputError as e:
        # The output cannot be written (a full disk, a closed stdout): one line on stderr if it
        # can take one, and a status of its own (README, "Exit codes and errors").
        _silence_stdout()
        say(f"smooth: error: cannot write output: {e.reason}")
        sys.exit(EX_IOERR)
    except InputError as e:  # raised outside a command (should not happen): same contract
        say(f"smooth: error: {e}")
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        _show(e)
        sys.exit(e.exit_code)
    except BrokenPipeError:
        _quiet_broken_pipe()
    except MemoryError:
        say("smooth: error: out of memory: the input is too large")
        sys.exit(2)
    except Exception as e:  # a bug in smooth: one line, not a traceback (contract: README)
        if _caused_by_interrupt(e):
            # Python 3.11 wraps a KeyboardInterrupt that lands while a class is being created
            # (``__set_name__`` of a dataclass field, as a module is imported) in a RuntimeError
            say("smooth: interrupted")
            sys.exit(130)
        if os.environ.get("SMOOTH_DEBUG"):
            raise
        detail = " ".join(f"{type(e).__name__}: {e}".split())
        say(f"smooth: internal error: {detail} (please report it; run with SMOOTH_DEBUG=1 for "
            "the traceback)")
        sys.exit(70)  # EX_SOFTWARE (sysexits.h): never mistaken for --check's 1 or usage's 2
    finally:
        if isinstance(sys.stdout, GuardedStdout):
            sys.stdout = stdout
    code = rv if isinstance(rv, int) else 0
    if code == 130:  # typer.core._main turns KeyboardInterrupt into Exit(130), silently
        say("smooth: interrupted")
    sys.exit(code)


def _run(args: List[str]):
    """Run the app on the command line ``args``.

    When the first word names a subcommand (``smooth lse 710 12``) click is given the root group
    holding that subcommand only: typer builds a click command for each subcommand it holds
    (reading every parameter's annotation, about 1 ms each at every start) and no other one can
    be reached from this command line.  Anything else -- ``smooth --help``, ``smooth -V``, a
    mistyped command that gets suggestions, shell completion -- gets the whole group."""
    registered = app.registered_commands
    name = args[0] if args else None
    only = [info for info in registered
            if (info.name or typer.main.get_command_name(info.callback.__name__)) == name]
    if len(only) != 1 or "_SMOOTH_COMPLETE" in os.environ:
        return app(standalone_mode=False, prog_name="smooth")
    app.registered_commands = only
    try:
        return app(standalone_mode=False, prog_name="smooth")
    finally:
        app.registered_commands = registered


def _show(e: click.ClickException) -> None:
    """click's own show() (the help, for ``smooth`` alone), which must not raise when stderr is
    closed or full: the exit status is what is left to tell the story."""
    try:
        e.show()
    except Exception:  # noqa: BLE001
        quiet_stderr()


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush cannot raise EPIPE (or
    ENOSPC) again (the Python docs' advice for SIGPIPE, "Note on SIGPIPE" in the signal module)."""
    try:
        fd = sys.stdout.fileno()
        devnull = os.open(os.devnull, os.O_WRONLY)
        if devnull != fd:
            os.dup2(devnull, fd)
            os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file descriptor (CliRunner, closed)
        pass


def _quiet_broken_pipe() -> None:
    """The reader went away (``smooth ... | head -1``): exit quietly, as Python docs advise."""
    _silence_stdout()
    sys.exit(0)
