"""smooth: is this formula stable in this dtype?  LSE, softmax and friends, measured exactly.

The numerical core is usable as a library::

    from smoothcli import lse_report, parse_numbers, Settings, resolve_dtypes
    report = lse_report(parse_numbers(["710", "12"]), Settings(resolve_dtypes(["float16"]),
                                                               ["naive", "shifted"]))
    next(iter(report.rows))["overflow"]  # True: the naive row (docs/json.md lists the keys)

Names are imported lazily (PEP 562) so that ``smooth --help`` does not pay for numpy or mpmath.
"""

from __future__ import annotations

# The first lines smooth runs (the console script imports this package before smoothcli.cli):
# when this process is smooth itself, Ctrl-C from here on ends it with the documented line and
# status instead of a KeyboardInterrupt traceback from whatever import it lands in.
import os
import sys

try:  # the C module itself: signal.py would first build its enums (~1 ms, Ctrl-C unanswered)
    import _signal as signal
except ImportError:  # pragma: no cover - an interpreter without it
    import signal  # type: ignore[no-redef]


def _interrupted_while_starting(signum, frame) -> None:  # noqa: ARG001 - signal's interface
    """Ctrl-C while smooth starts (importing click, typer, rich, numpy): a KeyboardInterrupt there
    would print a traceback, so end here with the documented line and status."""
    try:
        os.write(2, b"smooth: interrupted\n")
    except OSError:
        pass
    os._exit(130)


def _module_run(argv: list) -> str | None:
    """The module named by ``-m`` among the interpreter options of ``argv`` (sys.orig_argv)."""
    i = 1
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg in ("-", "--") or arg.startswith("--"):
            return None  # a script, stdin, or a long option: not ``-m``
        flags = arg[1:]
        for j, ch in enumerate(flags):
            if ch == "m":
                rest = flags[j + 1:]
                return rest or (argv[i + 1] if i + 1 < len(argv) else None)
            if ch == "c":
                return None
            if ch in "WX":  # an option with a value: the rest of the word, or the next word
                if not flags[j + 1:]:
                    i += 1
                break
        i += 1
    return None


def _is_smooth() -> bool:
    """Whether this process is smooth itself -- the console script or ``python -m smoothcli`` --
    rather than a program that imports smoothcli (a test runner, a notebook), whose Ctrl-C and
    environment are its own."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None) or ""
    name = os.path.basename(main_file)
    folder = os.path.basename(os.path.dirname(main_file))
    if name in ("smooth", "smooth.exe", "smooth-script.py"):
        return True
    if name == "__main__.py" and folder in ("smoothcli", "smooth.exe"):
        return True
    # ``python -m smoothcli``: runpy imports this package while it locates smoothcli.__main__,
    # before __main__ is replaced; meanwhile sys.argv[0] is "-m".
    return sys.argv[:1] == ["-m"] and _module_run(getattr(sys, "orig_argv", [])) == "smoothcli"


#: What SIGINT did before smooth took it for its start-up (None: not taken); smoothcli.cli.main
#: puts it back once start-up is over, from when Ctrl-C is a KeyboardInterrupt it answers.
_previous_sigint = None


def _take_startup_sigint():
    """Answer SIGINT with :func:`_interrupted_while_starting` until smoothcli.cli.main() starts,
    when this process is smooth and SIGINT is Python's default; returns the handler replaced."""
    global _previous_sigint
    if _previous_sigint is None and _is_smooth():
        try:
            if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
                _previous_sigint = signal.signal(signal.SIGINT, _interrupted_while_starting)
        except (ValueError, OSError):  # not the main thread
            pass
    return _previous_sigint


if _is_smooth():
    _take_startup_sigint()
    # smooth never calls BLAS (no dot, matmul or linalg): one OpenBLAS thread instead of a pool
    # of one per core, which numpy's import starts and which takes 10-40 ms of a cold start
    # (docs/performance.md, "Start-up").  A value the user set is kept.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from importlib import import_module  # noqa: E402 - after the start-up SIGINT handler
from typing import Any  # noqa: E402

__version__ = "0.1.0"

_EXPORTS = {
    "lse_report": "smoothcli.commands.lse",
    "softmax_report": "smoothcli.commands.softmax",
    "exp_range_report": "smoothcli.commands.exp_range",
    "bounds_report": "smoothcli.commands.bounds",
    "underflow_report": "smoothcli.commands.underflow",
    "sigmoid_report": "smoothcli.commands.sigmoid",
    "abs_report": "smoothcli.commands.smooth_abs",
    "metrics_report": "smoothcli.commands.metrics",
    "sigmoid_reference": "smoothcli.methods.sigmoid",
    "SIGMOID_METHODS": "smoothcli.methods.sigmoid",
    "Settings": "smoothcli.commands._common",
    "parse_numbers": "smoothcli.core.numbers",
    "parse_number": "smoothcli.core.numbers",
    "Number": "smoothcli.core.numbers",
    "resolve_dtypes": "smoothcli.core.formats",
    "get_float_format": "smoothcli.core.formats",
    "FloatFormat": "smoothcli.core.formats",
    "round_fraction": "smoothcli.core.rounding",
    "lse_reference": "smoothcli.reference.exact",
    "softmax_reference": "smoothcli.reference.exact",
    "Accumulation": "smoothcli.core.accumulation",
    "Report": "smoothcli.report.model",
    "InputError": "smoothcli.core.errors",
    # files and batches, the fast reference
    "load_file": "smoothcli.engine.inputs",
    "Batch": "smoothcli.engine.inputs",
    "evaluate": "smoothcli.engine.evaluate",
    "Plan": "smoothcli.engine.evaluate",
    "row_reference": "smoothcli.reference.fast",
    # sweeps (numerics) and the sweep report (rows, chart, boundaries)
    "run_sweep": "smoothcli.engine.sweep",
    "parse_sweep": "smoothcli.engine.sweep",
    "sweep_report": "smoothcli.commands.sweep",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'smoothcli' has no attribute {name!r}")
